/// Settings of the broker core (listeners and the CLI live in `Node`).
public struct BrokerConfiguration: Sendable {
    /// This node's name, used in `$SYS` topics.
    public var nodeName: String = "starling@127.0.0.1"
    public var connection = ConnectionLimits()
    /// The most QoS 1/2 messages in flight to one client, whatever its Receive Maximum says (EMQX's
    /// `max_inflight`); with `sessionQueueCapacity` it bounds what a slow consumer can make the broker hold.
    public var maximumInflight: Int = 32
    /// Messages kept per offline or slow session before the drop policy applies.
    public var sessionQueueCapacity: Int = 1000
    /// Whether QoS 0 messages are queued for offline sessions (EMQX's `mqueue_store_qos0`).
    public var queueQoS0WhileOffline: Bool = true
    /// Topic shards on this node.
    public var topicShards: Int = 4
    /// Retained-message shards.
    public var retainedShards: Int = 4
    /// Seconds between `$SYS` publications; 0 turns them off.
    public var sysInterval: UInt32 = 10
    /// Milliseconds a new connection may take to send CONNECT.
    public var connectTimeoutMilliseconds: Int64 = 10_000
    public var version: String = "0.1.0"

    public init() {}
}
