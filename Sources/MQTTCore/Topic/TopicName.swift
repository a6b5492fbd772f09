/// A topic name as carried in PUBLISH: non-empty, at most 65535 bytes of UTF-8, no U+0000 and no wildcards
/// [MQTT-4.7.3-1] [MQTT-3.3.2-2].
public struct TopicName: Sendable, Hashable, Codable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let value: String

    public init(validating value: String) throws(MQTTProtocolError) {
        guard !value.isEmpty else { throw MQTTProtocolError(.topicNameInvalid, "empty topic name") }
        guard value.utf8.count <= 65_535 else { throw MQTTProtocolError(.topicNameInvalid, "topic name too long") }
        for byte in value.utf8 {
            switch byte {
            case 0: throw MQTTProtocolError(.topicNameInvalid, "U+0000 in topic name")
            case UInt8(ascii: "+"), UInt8(ascii: "#"):
                throw MQTTProtocolError(.topicNameInvalid, "wildcard in topic name")
            default: continue
            }
        }
        self.value = value
    }

    /// For literals in code and tests; traps on an invalid literal (a programmer error).
    public init(stringLiteral value: String) {
        do { try self.init(validating: value) } catch { preconditionFailure("invalid topic literal \(value)") }
    }

    /// Whether the first level starts with `$` (such topics are not matched by a leading wildcard [MQTT-4.7.2-1]).
    public var isSystemTopic: Bool { value.utf8.first == UInt8(ascii: "$") }

    /// The levels split on `/`; empty levels are kept.
    public var levels: [Substring] { value.split(separator: "/", omittingEmptySubsequences: false) }

    /// The first level, used to place the topic in a shard.
    public var firstLevel: Substring { value.prefix { $0 != "/" } }

    public var description: String { value }

    public static func < (lhs: TopicName, rhs: TopicName) -> Bool { lhs.value < rhs.value }
}
