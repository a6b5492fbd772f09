import MQTTCore

/// The version of a retained topic's last write: a hybrid logical clock stamp from the store that accepted the
/// write (wall-clock milliseconds, but always above every stamp that store has seen), then the accepting node's
/// name. The larger version wins, so when two nodes set the same topic the later write wins, and a tie (same
/// millisecond on two stores during a partition) goes to the larger node name.
public struct RetainedVersion: Sendable, Hashable, Codable, Comparable {
    public var stamp: Int64
    public var node: String

    public init(stamp: Int64, node: String) {
        self.stamp = stamp
        self.node = node
    }

    public static func < (lhs: RetainedVersion, rhs: RetainedVersion) -> Bool {
        (lhs.stamp, lhs.node) < (rhs.stamp, rhs.node)
    }
}

/// One write to a retained topic: the message, or nil for a deletion (kept as a tombstone so that an older copy
/// on another node cannot bring the message back).
public struct RetainedRecord: Sendable, Hashable, Codable {
    public var topic: TopicName
    public var message: Message?
    public var version: RetainedVersion

    public init(topic: TopicName, message: Message?, version: RetainedVersion) {
        self.topic = topic
        self.message = message
        self.version = version
    }
}

/// The pure state of one retained shard on one node: the messages (in a `RetainedIndex`), each topic's version,
/// and the tombstones of deleted topics. Writes merge by last-writer-wins on `RetainedVersion`.
public struct RetainedShard: Sendable {
    public private(set) var index = RetainedIndex()
    private var versions: [TopicName: RetainedVersion] = [:]
    private var lastStamp: Int64 = 0

    public init() {}

    /// Accepts a new write from a client (the store is the one the write reached): stamps it and applies it.
    public mutating func accept(_ message: Message, now: Timestamp, node: String) -> RetainedRecord {
        lastStamp = max(now.milliseconds, lastStamp + 1)
        let record = RetainedRecord(
            topic: message.topic, message: message.payload.readableBytes > 0 ? message : nil,
            version: RetainedVersion(stamp: lastStamp, node: node))
        merge(record)
        return record
    }

    /// Applies a write from another store when it is newer than what is here; returns whether it was.
    @discardableResult
    public mutating func merge(_ record: RetainedRecord) -> Bool {
        lastStamp = max(lastStamp, record.version.stamp)
        if let current = versions[record.topic], current >= record.version { return false }
        versions[record.topic] = record.version
        if let message = record.message { index.set(message) } else { index.remove(record.topic) }
        return true
    }

    /// Every write held here, tombstones included (what a new owner of the shard needs).
    public var records: [RetainedRecord] {
        versions.map { topic, version in RetainedRecord(topic: topic, message: index.get(topic), version: version) }
            .sorted { $0.topic < $1.topic }
    }

    public func match(_ filter: TopicFilter, now: Timestamp) -> [Message] { index.match(filter, now: now) }

    public var count: Int { index.count }

    public var isEmpty: Bool { versions.isEmpty }

    /// Deletes the messages expired at `now`, keeping their versions as tombstones; returns how many.
    public mutating func removeExpired(now: Timestamp) -> Int {
        index.removeExpired(now: now)
    }

    /// Forgets everything (the shard moved to other nodes, which have it).
    public mutating func removeAll() {
        self = RetainedShard()
    }
}
