import ClusterTransport
import MQTTCore

/// What a session needs from the broker around it (a local object, never sent over the wire).
public protocol BrokerServices: Sendable {
    var clock: any BrokerClock { get }
    /// The directory of this node's sessions (the session reports whether a connection is attached).
    var sessions: SessionDirectory { get }
    var metrics: BrokerMetrics { get }
    /// Publishes a will (or any broker-originated message) through the normal routing path.
    func publishWill(_ message: Message) async
    /// Indexes a session's subscriptions on this node (topic shards, cluster routes); returns which are new.
    func indexSubscriptions(_ clientID: ClientID, _ subscriptions: [StoredSubscription]) async -> [Bool]
    /// Takes a session's subscriptions out of this node's index.
    func unindexSubscriptions(_ clientID: ClientID, _ filters: [TopicFilter]) async
    /// Where the session's replica lives now: the second node of its preference list (the first other node when
    /// this one no longer owns it); nil on a node alone.
    func replicaTarget(for clientID: ClientID) -> NodeName?
    /// Queues an update for the replica on `node`.
    func replicate(_ update: ReplicaUpdate, to node: NodeName) -> ReplicationTicket
    /// Returns once the update is settled: true when the replica holds it.
    func awaitReplicated(_ ticket: ReplicationTicket) async -> Bool
    /// Hands a session to `node` (this one included); true when it holds the session now.
    func adopt(_ snapshot: SessionSnapshot, on node: NodeName) async -> Bool
    /// Passes messages that reached a session after it moved on to its new owner.
    func passOn(_ items: [SessionDelivery], to node: NodeName, clientID: ClientID) async
    /// The session moved to another node: this node forgets it.
    func sessionMoved(_ session: SessionActor, clientID: ClientID) async
    /// Appends a record to the node's data directory (nothing without `--data-dir`).
    func persist(_ record: DurableRecord)
    /// Whether the node has a data directory.
    var persists: Bool { get }
    /// The session ended (expired or discarded): its subscriptions leave the topic shards, and the registry forgets
    /// it, unless the registry already holds a newer session for the same client.
    func sessionEnded(_ session: SessionActor, clientID: ClientID, subscriptions: [StoredSubscription]) async
}

/// An update queued for a replica.
public struct ReplicationTicket: Sendable {
    let node: NodeName
    let ticket: UInt64
}
