import BrokerActors
import MQTTCore
import Testing

/// One filter against one topic, checked against both indexes (and `TopicFilter.matches` as the reference).
struct MatchCase: CustomTestStringConvertible, Sendable {
    var name: String
    var filter: String
    var topic: String
    var matches: Bool

    init(_ name: String, _ filter: String, _ topic: String, _ matches: Bool) {
        self.name = name
        self.filter = filter
        self.topic = topic
        self.matches = matches
    }

    var testDescription: String { "\(name): \(filter) ~ \(topic)" }
}

let matchCases: [MatchCase] = [
    .init("exact", "a/b", "a/b", true),
    .init("exact, other last level", "a/b", "a/c", false),
    .init("exact, longer topic", "a/b", "a/b/c", false),
    .init("exact, shorter topic", "a/b/c", "a/b", false),
    .init("plus one level", "a/+", "a/b", true),
    .init("plus does not span levels", "a/+", "a/b/c", false),
    .init("plus needs its level", "a/+", "a", false),
    .init("plus matches an empty level", "a/+", "a/", true),
    .init("lone plus, one level", "+", "a", true),
    .init("lone plus, leading empty level", "+", "/a", false),
    .init("plus/plus, leading empty level", "+/+", "/a", true),
    .init("empty level then plus", "/+", "/a", true),
    .init("plus in the middle", "a/+/c", "a/b/c", true),
    .init("plus in the middle, empty level", "a/+/c", "a//c", true),
    .init("empty levels exact", "a//b", "a//b", true),
    .init("hash everything", "#", "a/b/c", true),
    .init("hash a lone slash", "#", "/", true),
    .init("hash matches the parent [MQTT-4.7.1-2]", "a/#", "a", true),
    .init("hash below", "a/#", "a/b/c", true),
    .init("hash is per level, not per prefix", "a/#", "ab", false),
    .init("hash after plus", "+/#", "a", true),
    .init("plus then hash, parent", "a/+/#", "a/b", true),
    .init("plus then hash, too short", "a/+/#", "a", false),
    .init("deep hash parent", "a/b/#", "a/b", true),
    .init("hash not over $ topic [MQTT-4.7.2-1]", "#", "$SYS/x", false),
    .init("leading plus not over $ topic [MQTT-4.7.2-1]", "+/x", "$SYS/x", false),
    .init("plus/hash not over $ topic [MQTT-4.7.2-1]", "+/#", "$x", false),
    .init("explicit $ with hash", "$SYS/#", "$SYS/x", true),
    .init("explicit $ with plus", "$SYS/+", "$SYS/x", true),
    .init("$ level below the first is ordinary", "a/+", "a/$x", true),
    .init("hash below a $ first level", "$x/#", "$x", true),
    .init("bytes, not canonical equivalence [MQTT-4.7.3-4]", "caf\u{E9}", "cafe\u{301}", false),
    .init("bytes, same bytes", "caf\u{E9}/+", "caf\u{E9}/x", true),
    .init("shared uses the filter proper", "$share/g/a/+", "a/b", true),
    .init("shared filter proper, no match", "$share/g/a/+", "b/b", false),
    .init("queue uses the filter proper", "$queue/a/#", "a/b/c", true),
]

extension Routing {
    @Suite("Topic matching in the routing indexes")
    struct TopicMatchingTests {
        @Test("reference TopicFilter.matches agrees with the table", arguments: matchCases)
        func referenceAgrees(_ c: MatchCase) throws {
            let filter = try TopicFilter(validating: c.filter)
            #expect(filter.matches(try TopicName(validating: c.topic)) == c.matches)
        }

        @Test("SubscriptionIndex.match", arguments: matchCases)
        func subscriptionIndex(_ c: MatchCase) throws {
            var index = SubscriptionIndex()
            index.subscribe(
                "c1", filter: try TopicFilter(validating: c.filter), options: .init(qos: .atLeastOnce), identifier: 4)
            let deliveries = index.match(try TopicName(validating: c.topic), publisher: nil)
            #expect(keys(deliveries) == (c.matches ? [DeliveryKey("c1", .atLeastOnce, [4])] : []))
        }

        @Test("RetainedIndex.match", arguments: matchCases)
        func retainedIndex(_ c: MatchCase) throws {
            var index = RetainedIndex()
            let topic = try TopicName(validating: c.topic)
            index.set(message(topic))
            // A decoy that never matches these filters, so an empty result is not trivially empty.
            index.set(message("$decoy/zz"))
            let found = index.match(try TopicFilter(validating: c.filter), now: Timestamp(milliseconds: 0))
            #expect(found.map(\.topic) == (c.matches ? [topic] : []))
        }
    }
}
