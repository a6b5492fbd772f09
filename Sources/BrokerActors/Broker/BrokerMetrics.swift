import Synchronization

/// The broker's counters: created once, updated lock-free, read by `$SYS` (and later the HTTP API).
public final class BrokerMetrics: Sendable {
    public let connectionsCurrent = Atomic<Int>(0)
    public let connectionsTotal = Atomic<Int>(0)
    public let messagesReceived = Atomic<Int>(0)
    public let messagesSent = Atomic<Int>(0)
    public let messagesDropped = Atomic<Int>(0)
    public let publishDenied = Atomic<Int>(0)
    /// Messages sent to other nodes' subscribers (one per message and destination node).
    public let messagesForwarded = Atomic<Int>(0)
    /// Messages whose forwarding to a node failed (the node was unreachable or timed out).
    public let forwardFailures = Atomic<Int>(0)
    /// Replica updates that could not be confirmed (the replica was unreachable).
    public let replicationFailures = Atomic<Int>(0)
    /// Sessions started here from a replica or a handover.
    public let sessionsAdopted = Atomic<Int>(0)
    /// Sessions that arrived while a copy already ran here (after a partition): merged into it.
    public let sessionsMerged = Atomic<Int>(0)
    /// Messages redelivered to promoted sessions after forwarding to a failed node.
    public let messagesRedelivered = Atomic<Int>(0)

    public init() {}

    public struct Snapshot: Sendable, Hashable {
        public var connectionsCurrent: Int
        public var connectionsTotal: Int
        public var messagesReceived: Int
        public var messagesSent: Int
        public var messagesDropped: Int
        public var publishDenied: Int
        public var messagesForwarded: Int
        public var forwardFailures: Int
    }

    public func snapshot() -> Snapshot {
        Snapshot(
            connectionsCurrent: connectionsCurrent.load(ordering: .relaxed),
            connectionsTotal: connectionsTotal.load(ordering: .relaxed),
            messagesReceived: messagesReceived.load(ordering: .relaxed),
            messagesSent: messagesSent.load(ordering: .relaxed),
            messagesDropped: messagesDropped.load(ordering: .relaxed),
            publishDenied: publishDenied.load(ordering: .relaxed),
            messagesForwarded: messagesForwarded.load(ordering: .relaxed),
            forwardFailures: forwardFailures.load(ordering: .relaxed))
    }
}
