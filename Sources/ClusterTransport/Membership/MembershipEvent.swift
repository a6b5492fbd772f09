/// A visible change of membership, as returned by `MembershipState`'s mutating methods.
public enum MembershipEvent: Sendable, Equatable, CustomStringConvertible {
    /// `member` is the new record. `previous` is the status before the change, nil for a member that was not known
    /// (or only as a tombstone). A removal is reported as a member with status `.removed`; a member replaced by a
    /// newer incarnation is reported removed first, then the new incarnation with `previous: nil`. A change of
    /// endpoint, role or weight alone is reported with `previous == member.status`.
    case changed(Member, previous: MemberStatus?)

    /// The member the event is about.
    public var member: Member {
        switch self {
        case .changed(let member, _): member
        }
    }

    public var description: String {
        switch self {
        case .changed(let member, let previous):
            "\(member.id): \(previous.map(String.init(describing:)) ?? "new") -> \(member.status) (\(member))"
        }
    }
}
