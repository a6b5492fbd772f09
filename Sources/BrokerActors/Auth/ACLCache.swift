import MQTTCore

/// A small per-connection memo of PUBLISH decisions, keyed by topic name, so a client that keeps publishing to the
/// same few topics pays for the rule walk once per topic.
///
/// Owned by one connection (a value type, no locking): its client identity is fixed at creation, so entries can
/// never answer for another client. Entries are dropped when the cache sees a list with a different `generation`
/// (a reload), and the oldest entry is evicted once `capacity` topics are held.
public struct ACLCache: Sendable {
    public let client: ClientIdentity
    public let capacity: Int

    private var generation: UInt64?
    private var decisions: [TopicName: AccessControlList.Decision] = [:]
    /// Insertion order as a ring: `order[nextSlot]` is the oldest entry once the ring is full.
    private var order: [TopicName] = []
    private var nextSlot = 0

    /// Lookups answered from the cache / by the list, for metrics and tests.
    public private(set) var hits = 0
    public private(set) var misses = 0

    public init(client: ClientIdentity, capacity: Int = 32) {
        precondition(capacity > 0, "ACLCache capacity must be positive")
        self.client = client
        self.capacity = capacity
        decisions.reserveCapacity(capacity)
        order.reserveCapacity(capacity)
    }

    /// The number of topics held.
    public var count: Int { decisions.count }

    /// The list's decision on this client publishing to `topic`, from the cache when the list is the one the
    /// entries came from.
    public mutating func checkPublish(_ topic: TopicName, in acl: AccessControlList) -> AccessControlList.Decision {
        if acl.rules.isEmpty { return acl.noMatch }
        if generation != acl.generation { clear(generation: acl.generation) }
        if let decision = decisions[topic] {
            hits += 1
            return decision
        }
        misses += 1
        let decision = acl.check(.publish(topic), client: client)
        insert(topic, decision)
        return decision
    }

    /// Drops every entry (for example when the connection's identity is re-authenticated).
    public mutating func removeAll() { clear(generation: nil) }

    private mutating func clear(generation: UInt64?) {
        self.generation = generation
        decisions.removeAll(keepingCapacity: true)
        order.removeAll(keepingCapacity: true)
        nextSlot = 0
    }

    private mutating func insert(_ topic: TopicName, _ decision: AccessControlList.Decision) {
        if order.count < capacity {
            order.append(topic)
        } else {
            decisions[order[nextSlot]] = nil
            order[nextSlot] = topic
            nextSlot = (nextSlot + 1) % capacity
        }
        decisions[topic] = decision
    }
}
