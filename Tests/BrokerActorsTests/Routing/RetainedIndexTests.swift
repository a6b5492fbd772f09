@testable import BrokerActors
import MQTTCore
import NIOCore
import Testing

extension Routing {
    @Suite("RetainedIndex")
    struct RetainedIndexTests {
        static let t0 = Timestamp(milliseconds: 1_000)

        @Test("set stores, replaces and returns the previous message")
        func setAndReplace() {
            var index = RetainedIndex()
            #expect(index.set(message("a/b", "one")) == nil)
            #expect(index.set(message("a/b", "two"))?.payload == ByteBuffer(string: "one"))
            #expect(index.get("a/b")?.payload == ByteBuffer(string: "two"))
            #expect(index.get("a") == nil)
            #expect(index.get("a/b/c") == nil)
            #expect(index.count == 1)
        }

        @Test("an empty payload deletes the retained message and is not stored [MQTT-3.3.1-6] [MQTT-3.3.1-7]")
        func emptyPayloadDeletes() {
            var index = RetainedIndex()
            index.set(message("a/b", "x"))
            index.set(message("a/c", "y"))
            #expect(index.set(message("a/b", ""))?.payload == ByteBuffer(string: "x"))
            #expect(index.get("a/b") == nil)
            #expect(index.set(message("a/b", "")) == nil)
            #expect(index.get("a/b") == nil)
            #expect(index.all.map(\.topic) == ["a/c"])
            #expect(index.set(message("a/c", "")) != nil)
            #expect(index.count == 0)
            #expect(index.nodeCount == 1)
        }

        @Test("a parent topic and its children are separate messages")
        func nestedTopics() {
            var index = RetainedIndex()
            for t: TopicName in ["a", "a/b", "a/b/c", "a//b", "/a"] { index.set(message(t, t.value)) }
            #expect(Set(index.match("a/#", now: Self.t0).map(\.topic)) == ["a", "a/b", "a/b/c", "a//b"])
            #expect(Set(index.match("a/+", now: Self.t0).map(\.topic)) == ["a/b"])
            #expect(Set(index.match("+/+", now: Self.t0).map(\.topic)) == ["a/b", "/a"])
            #expect(index.match("a", now: Self.t0).map(\.topic) == ["a"])
            index.remove("a/b")
            #expect(index.get("a/b/c")?.payload == ByteBuffer(string: "a/b/c"))
            #expect(Set(index.match("#", now: Self.t0).map(\.topic)) == ["a", "a/b/c", "a//b", "/a"])
        }

        @Test("expired messages are not matched and removeExpired deletes them [MQTT-3.3.2-5]")
        func expiry() {
            var index = RetainedIndex()
            index.set(message("s/1", expiresAt: Self.t0.adding(milliseconds: 10)))
            index.set(message("s/2", expiresAt: Self.t0.adding(milliseconds: 20)))
            index.set(message("s/3"))
            #expect(index.match("s/+", now: Self.t0).count == 3)
            #expect(index.match("s/1", now: Self.t0.adding(milliseconds: 9)).count == 1)
            #expect(index.match("s/1", now: Self.t0.adding(milliseconds: 10)).isEmpty)
            #expect(Set(index.match("s/#", now: Self.t0.adding(milliseconds: 15)).map(\.topic)) == ["s/2", "s/3"])
            #expect(index.count == 3)
            #expect(index.removeExpired(now: Self.t0.adding(milliseconds: 20)) == 2)
            #expect(index.all.map(\.topic) == ["s/3"])
            #expect(index.removeExpired(now: Self.t0.adding(milliseconds: 99)) == 0)
        }

        @Test("shared filters match with the filter proper")
        func sharedFilter() {
            var index = RetainedIndex()
            index.set(message("a/b"))
            #expect(index.match("$share/g/a/+", now: Self.t0).map(\.topic) == ["a/b"])
            #expect(index.match("$queue/a/b", now: Self.t0).map(\.topic) == ["a/b"])
        }

        @Test("topics that differ only in Unicode normalization are different topics [MQTT-4.7.3-4]")
        func byteExactTopics() {
            var index = RetainedIndex()
            index.set(message("caf\u{E9}", "composed"))
            index.set(message("cafe\u{301}", "decomposed"))
            #expect(index.count == 2)
            #expect(index.get("cafe\u{301}")?.payload == ByteBuffer(string: "decomposed"))
            #expect(index.match("caf\u{E9}", now: Self.t0).map(\.payload) == [ByteBuffer(string: "composed")])
        }

        @Test("match, get and removeExpired agree with brute force; deleting everything leaves no nodes",
              arguments: 0..<40 as Range<UInt64>)
        func agreesWithBruteForce(seed: UInt64) {
            var gen = RoutingGenerator(seed: seed &+ 2_000)
            var index = RetainedIndex()
            var reference: [TopicName: Message] = [:]
            for _ in 0..<gen.int(1...40) {
                let topic = gen.topic()
                let empty = gen.chance(0.15)
                let expiry: Timestamp? = gen.chance(0.4) ? Self.t0.adding(milliseconds: Int64(gen.int(0...100))) : nil
                let m = message(topic, empty ? "" : "v\(gen.int(0...99))", expiresAt: expiry)
                #expect(index.set(m) == reference[topic], "seed \(seed)")
                reference[topic] = empty ? nil : m
            }
            #expect(index.count == reference.count, "seed \(seed)")
            #expect(index.all == reference.values.sorted { $0.topic < $1.topic }, "seed \(seed)")
            #expect(index.nodeCount == 1 + distinctPrefixes(of: reference.keys.map(\.levels)), "seed \(seed)")
            for topic in allTopics(maxLevels: 3) {
                #expect(index.get(topic) == reference[topic], "seed \(seed) topic \(topic)")
            }

            let now = Self.t0.adding(milliseconds: Int64(gen.int(0...100)))
            for _ in 0..<40 {
                let filter = gen.filter(sharedProbability: 0.1)
                let expected = reference.values.filter { filter.matches($0.topic) && !$0.isExpired(at: now) }
                let actual = index.match(filter, now: now)
                #expect(actual.count == Set(actual.map(\.topic)).count, "seed \(seed) filter \(filter): duplicates")
                #expect(Set(actual) == Set(expected), "seed \(seed) filter \(filter)")
            }

            let expiredCount = reference.values.filter { $0.isExpired(at: now) }.count
            #expect(index.removeExpired(now: now) == expiredCount, "seed \(seed)")
            reference = reference.filter { !$0.value.isExpired(at: now) }
            #expect(index.count == reference.count, "seed \(seed)")
            #expect(index.nodeCount == 1 + distinctPrefixes(of: reference.keys.map(\.levels)), "seed \(seed)")

            for topic in reference.keys { #expect(index.set(message(topic, "")) != nil, "seed \(seed)") }
            #expect(index.count == 0 && index.all.isEmpty, "seed \(seed)")
            #expect(index.nodeCount == 1, "seed \(seed)")
        }
    }
}
