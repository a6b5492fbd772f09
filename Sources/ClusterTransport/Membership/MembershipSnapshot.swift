/// An immutable view of the membership: what other components (ownership, routing) work from.
public struct MembershipSnapshot: Sendable, Equatable {
    /// The local change counter of the `MembershipState` this was taken from; a later snapshot has a larger epoch.
    public let epoch: UInt64
    /// Known members sorted by name, the local member included, removed members (tombstones) excluded.
    public let members: [Member]

    public init(epoch: UInt64, members: [Member]) {
        self.epoch = epoch
        self.members = members.sorted { $0.id.name < $1.id.name }
    }

    /// Members that are up and brokers: the candidates for key ownership.
    public var upBrokers: [Member] { members.filter { $0.status == .up && $0.role == .broker } }

    /// Ownership candidates from `upBrokers`.
    public var ownershipCandidates: [OwnershipCandidate] { upBrokers.map(OwnershipCandidate.init) }

    /// The member with this name, if any.
    public func member(named name: NodeName) -> Member? {
        // Sorted by name: binary search.
        var low = 0
        var high = members.count
        while low < high {
            let middle = (low + high) / 2
            if members[middle].id.name < name { low = middle + 1 } else { high = middle }
        }
        return low < members.count && members[low].id.name == name ? members[low] : nil
    }
}
