import ClusterTransport

/// Whether this node is with the majority of the cluster's brokers: a pure value fed with the membership.
///
/// The cluster's size is every broker this node has seen up, less those that left gracefully (a crashed or
/// unreachable one still counts: a node cannot tell a crash from a partition). The node is **partitioned** when
/// the brokers it sees up, itself included, are not more than half of that: the side of a split with the
/// majority keeps serving normally, the other side reports itself partitioned (HTTP status 503, so the gateway
/// sends it no new clients). A node alone from the start is never partitioned.
public struct ClusterHealth: Sendable, Equatable {
    public private(set) var known: Set<NodeName>
    public private(set) var up: Set<NodeName>

    public init(local: NodeName) {
        known = [local]
        up = [local]
    }

    /// Folds a membership change in; returns true when `isPartitioned` changed.
    @discardableResult
    public mutating func observe(_ member: Member) -> Bool {
        guard member.role == .broker else { return false }
        let before = isPartitioned
        let name = member.id.name
        switch member.status {
        case .up:
            known.insert(name)
            up.insert(name)
        case .leaving:
            known.remove(name)
            up.remove(name)
        case .down, .removed, .joining:
            up.remove(name)
        }
        return before != isPartitioned
    }

    public var isPartitioned: Bool { up.count * 2 <= known.count }
}
