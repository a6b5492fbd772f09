import MQTTCore

/// The retained messages of one topic shard, at most one per topic [MQTT-3.3.1-5].
///
/// A pure value type. Topics live in a trie keyed by level, so a wildcard filter such as `sensors/+/temp` visits
/// only the branches it can match; a filter without wildcards is a dictionary lookup.
public struct RetainedIndex: Sendable {
    struct Slot: TopicTrieValue {
        var message: Message?
        init() {}
        var isEmpty: Bool { message == nil }
    }

    var trie = TopicTrie<Slot>()
    /// Topic (byte-exact) -> its trie node.
    private var nodesByTopic: [UTF8Key: TopicTrie<Slot>.Index] = [:]

    public init() {}

    /// Stores a retained message, replacing the topic's previous one; a message with an empty payload deletes
    /// the topic's retained message instead and is not stored [MQTT-3.3.1-6] [MQTT-3.3.1-7]. Returns the previous
    /// message, if any.
    @discardableResult
    public mutating func set(_ message: Message) -> Message? {
        guard message.payload.readableBytes > 0 else { return remove(message.topic) }
        let key = UTF8Key(message.topic.value)
        let node: TopicTrie<Slot>.Index
        if let existing = nodesByTopic[key] {
            node = existing
        } else {
            node = trie.insert(message.topic.levels)
            nodesByTopic[key] = node
        }
        return trie.modify(node) { slot in
            defer { slot.message = message }
            return slot.message
        }
    }

    /// Deletes the topic's retained message; returns it, if there was one.
    @discardableResult
    public mutating func remove(_ topic: TopicName) -> Message? {
        guard let node = nodesByTopic.removeValue(forKey: UTF8Key(topic.value)) else { return nil }
        let previous = trie.modify(node) { slot in
            defer { slot.message = nil }
            return slot.message
        }
        trie.prune(topic.levels)
        return previous
    }

    /// The topic's retained message, expired or not.
    public func get(_ topic: TopicName) -> Message? {
        guard let node = nodesByTopic[UTF8Key(topic.value)] else { return nil }
        return trie.nodes[Int(node)].value.message
    }

    /// The retained messages whose topic the filter matches (the filter proper, without any `$share/<group>/`
    /// prefix), honouring the `$` rule [MQTT-4.7.2-1] and leaving out messages expired at `now`
    /// [MQTT-3.3.2-5]. In no particular order.
    public func match(_ filter: TopicFilter, now: Timestamp) -> [Message] {
        if !filter.hasWildcards {
            guard let node = nodesByTopic[UTF8Key(filter.filter)],
                let message = trie.nodes[Int(node)].value.message, !message.isExpired(at: now)
            else { return [] }
            return [message]
        }
        var messages: [Message] = []
        trie.forEachTopic(matching: filter.levels) { node in
            if let message = trie.nodes[Int(node)].value.message, !message.isExpired(at: now) {
                messages.append(message)
            }
        }
        return messages
    }

    /// Deletes the messages expired at `now`; returns how many.
    @discardableResult
    public mutating func removeExpired(now: Timestamp) -> Int {
        var expired: [TopicName] = []
        for node in nodesByTopic.values {
            if let message = trie.nodes[Int(node)].value.message, message.isExpired(at: now) {
                expired.append(message.topic)
            }
        }
        for topic in expired { remove(topic) }
        return expired.count
    }

    public var count: Int { nodesByTopic.count }

    public var isEmpty: Bool { nodesByTopic.isEmpty }

    /// Every retained message, ordered by topic (for listing).
    public var all: [Message] {
        nodesByTopic.values.compactMap { trie.nodes[Int($0)].value.message }.sorted { $0.topic < $1.topic }
    }

    /// Live trie nodes including the root (1 when empty); for tests that check pruning.
    var nodeCount: Int { trie.nodeCount }
}
