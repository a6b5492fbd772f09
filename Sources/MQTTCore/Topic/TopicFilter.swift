/// A topic filter as carried in SUBSCRIBE and UNSUBSCRIBE, already split into its shared-subscription group (for
/// `$share/<group>/<filter>` and `$queue/<filter>`) and the filter proper.
public struct TopicFilter: Sendable, Hashable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The filter exactly as the client sent it, including any `$share/<group>/` prefix.
    public let rawValue: String
    /// The group of a shared subscription; `$queue/f` is the group named `$queue`.
    public let shareGroup: String?
    /// The filter that is matched against topic names (without the share prefix).
    public let filter: String

    public init(validating raw: String) throws(MQTTProtocolError) {
        guard !raw.isEmpty else { throw MQTTProtocolError(.topicFilterInvalid, "empty topic filter") }
        guard raw.utf8.count <= 65_535 else { throw MQTTProtocolError(.topicFilterInvalid, "topic filter too long") }
        var group: String?
        var filter = raw
        if raw.hasPrefix("$share/") {
            let rest = raw.dropFirst("$share/".count)
            guard let slash = rest.firstIndex(of: "/") else {
                throw MQTTProtocolError(.topicFilterInvalid, "shared subscription without filter")
            }
            let name = rest[..<slash]
            guard !name.isEmpty, !name.contains(where: { $0 == "+" || $0 == "#" }) else {
                throw MQTTProtocolError(.topicFilterInvalid, "invalid share name")
            }
            group = String(name)
            filter = String(rest[rest.index(after: slash)...])
        } else if raw.hasPrefix("$queue/") {
            group = "$queue"
            filter = String(raw.dropFirst("$queue/".count))
        }
        try Self.validateFilter(filter)
        self.rawValue = raw
        self.shareGroup = group
        self.filter = filter
    }

    /// For literals in code and tests; traps on an invalid literal (a programmer error).
    public init(stringLiteral value: String) {
        do { try self.init(validating: value) } catch { preconditionFailure("invalid filter literal \(value)") }
    }

    private static func validateFilter(_ filter: String) throws(MQTTProtocolError) {
        guard !filter.isEmpty else { throw MQTTProtocolError(.topicFilterInvalid, "empty topic filter") }
        let levels = filter.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        for (index, level) in levels.enumerated() {
            for byte in level where byte == 0 {
                _ = byte
                throw MQTTProtocolError(.topicFilterInvalid, "U+0000 in topic filter")
            }
            if level.contains(UInt8(ascii: "#")) {
                // '#' must be alone in the last level [MQTT-4.7.1-1].
                guard level.count == 1, index == levels.count - 1 else {
                    throw MQTTProtocolError(.topicFilterInvalid, "misplaced multi-level wildcard")
                }
            }
            if level.contains(UInt8(ascii: "+")) {
                // '+' must occupy an entire level [MQTT-4.7.1-2].
                guard level.count == 1 else {
                    throw MQTTProtocolError(.topicFilterInvalid, "misplaced single-level wildcard")
                }
            }
        }
    }

    public var isShared: Bool { shareGroup != nil }

    /// Whether the filter proper contains `+` or `#`.
    public var hasWildcards: Bool { filter.utf8.contains { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") } }

    /// The levels of the filter proper.
    public var levels: [Substring] { filter.split(separator: "/", omittingEmptySubsequences: false) }

    /// The first level of the filter proper, or nil when it is a wildcard (such filters go to every shard).
    public var literalFirstLevel: Substring? {
        let first = filter.prefix { $0 != "/" }
        return (first == "+" || first == "#") ? nil : first
    }

    /// Whether this filter matches the topic name, including the rule that a leading wildcard does not match a
    /// topic whose first level starts with `$` [MQTT-4.7.2-1].
    public func matches(_ topic: TopicName) -> Bool {
        TopicMatcher.matches(filter: filter.utf8, topic: topic.value.utf8)
    }

    /// Whether this filter's matched topic is exactly the given name (no wildcards, same text).
    public func isExactly(_ topic: TopicName) -> Bool { !hasWildcards && filter == topic.value }

    public var description: String { rawValue }
}

/// Level-by-level topic matching.
enum TopicMatcher {
    static func matches(filter: String.UTF8View, topic: String.UTF8View) -> Bool {
        let slash = UInt8(ascii: "/")
        let f = filter.split(separator: slash, omittingEmptySubsequences: false)
        let t = topic.split(separator: slash, omittingEmptySubsequences: false)
        if topic.first == UInt8(ascii: "$"), let first = f.first, isWildcard(first) { return false }
        var index = 0
        while index < f.count {
            let level = f[index]
            if level.count == 1, level.first == UInt8(ascii: "#") { return true }  // also matches the parent level
            guard index < t.count else { return false }
            if !(level.count == 1 && level.first == UInt8(ascii: "+")), !level.elementsEqual(t[index]) { return false }
            index += 1
        }
        return index == t.count
    }

    private static func isWildcard(_ level: Substring.UTF8View) -> Bool {
        level.count == 1 && (level.first == UInt8(ascii: "+") || level.first == UInt8(ascii: "#"))
    }
}
