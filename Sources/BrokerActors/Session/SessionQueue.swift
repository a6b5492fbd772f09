import MQTTCore

/// The bounded queue of messages waiting for a session: while its client is offline, or while the in-flight window
/// is full. When full, it drops the oldest QoS 0 message if there is one, otherwise the oldest message (EMQX's
/// mqueue policy); the new message is always kept, so a subscriber sees the most recent data.
public struct SessionQueue: Sendable, Hashable, Codable {
    public private(set) var items: [SessionDelivery] = []
    private var head = 0
    public let capacity: Int
    public private(set) var dropped: Int = 0

    public init(capacity: Int) {
        precondition(capacity > 0, "queue capacity must be positive")
        self.capacity = capacity
    }

    public var count: Int { items.count - head }

    /// Whether the fields agree (checked when a queue arrives decoded from elsewhere).
    var isConsistent: Bool { capacity > 0 && head >= 0 && head <= items.count && dropped >= 0 }
    public var isEmpty: Bool { count == 0 }

    /// Adds a message and returns the one dropped to make room, if any.
    @discardableResult
    public mutating func append(_ delivery: SessionDelivery) -> SessionDelivery? {
        var victim: SessionDelivery?
        if count >= capacity {
            if let index = items[head...].firstIndex(where: { effectiveQoS($0) == .atMostOnce }) {
                victim = items.remove(at: index)
            } else {
                victim = items[head]
                head += 1
            }
            dropped += 1
        }
        items.append(delivery)
        compactIfNeeded()
        return victim
    }

    public mutating func popFirst() -> SessionDelivery? {
        guard head < items.count else { return nil }
        let first = items[head]
        head += 1
        compactIfNeeded()
        return first
    }

    public mutating func removeAll() {
        items.removeAll()
        head = 0
    }

    public var elements: ArraySlice<SessionDelivery> { items[head...] }

    private mutating func compactIfNeeded() {
        if head > 64, head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
    }

    private func effectiveQoS(_ d: SessionDelivery) -> MQTTQoS { min(d.message.qos, d.delivery.qos) }
}
