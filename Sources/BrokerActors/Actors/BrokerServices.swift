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
    /// The session ended (expired or discarded): its subscriptions leave the topic shards, and the registry forgets
    /// it, unless the registry already holds a newer session for the same client.
    func sessionEnded(_ session: SessionActor, clientID: ClientID, subscriptions: [StoredSubscription]) async
}
