import MQTTCore
import NIOCore
import Testing

@testable import BrokerActors

extension Routing {
    @Suite("RetainedShard")
    struct RetainedShardTests {
        static let t0 = Timestamp(milliseconds: 1_000)

        static func record(_ topic: TopicName, _ payload: String?, _ stamp: Int64, _ node: String) -> RetainedRecord {
            RetainedRecord(
                topic: topic, message: payload.map { message(topic, $0) },
                version: RetainedVersion(stamp: stamp, node: node))
        }

        /// The payload retained for `topic`, as text (nil when there is none).
        static func payload(_ shard: RetainedShard, _ topic: TopicName) -> String? {
            shard.records.first { $0.topic == topic }?.message.map { String(buffer: $0.payload) }
        }

        static func version(_ shard: RetainedShard, _ topic: TopicName) -> RetainedVersion? {
            shard.records.first { $0.topic == topic }?.version
        }

        // MARK: Stamping

        @Test("accept stamps strictly increasing versions even when the clock repeats or goes backwards")
        func acceptStamps() {
            var shard = RetainedShard()
            let nows: [Int64] = [1_000, 1_000, 1_000, 500, 0, 5_000, 4_999, 5_000, -7, 6_000]
            var stamps: [Int64] = []
            for (i, now) in nows.enumerated() {
                let m = message(TopicName(stringLiteral: "t/\(i % 3)"), "v\(i)")
                let record = shard.accept(m, now: Timestamp(milliseconds: now), node: "n1")
                #expect(record.version.node == "n1")
                #expect(record.topic == m.topic)
                #expect(record.message == m)
                #expect(record.version.stamp >= now)
                stamps.append(record.version.stamp)
            }
            for i in 1..<stamps.count { #expect(stamps[i] > stamps[i - 1], "stamps \(stamps)") }
            #expect(stamps.first == 1_000)
            #expect(stamps.last == 6_000)  // a clock ahead of every stamp is used as it is
            // Each accepted write is the current one for its topic.
            #expect(Self.payload(shard, "t/0") == "v9")
            #expect(Self.payload(shard, "t/1") == "v7")
            #expect(Self.payload(shard, "t/2") == "v8")
            #expect(shard.count == 3)
        }

        @Test("after merging a record with a large stamp, the next accept stamps above it and wins")
        func clockFollowsMerges() {
            var shard = RetainedShard()
            #expect(shard.merge(Self.record("a", "remote", 1_000_000, "zz")) == true)
            let local = shard.accept(message("a", "local"), now: Self.t0, node: "aa")
            #expect(local.version.stamp > 1_000_000)
            #expect(Self.payload(shard, "a") == "local")

            // A merge for another topic moves the clock too (it is per store, not per topic).
            #expect(shard.merge(Self.record("b", "remote", 2_000_000, "zz")) == true)
            let next = shard.accept(message("c", "x"), now: Self.t0, node: "aa")
            #expect(next.version.stamp > 2_000_000)
        }

        // MARK: Last-writer-wins

        @Test("RetainedVersion orders by stamp, then by node name")
        func versionOrder() {
            #expect(RetainedVersion(stamp: 1, node: "z") < RetainedVersion(stamp: 2, node: "a"))
            #expect(RetainedVersion(stamp: 2, node: "a") < RetainedVersion(stamp: 2, node: "b"))
            #expect(!(RetainedVersion(stamp: 2, node: "b") < RetainedVersion(stamp: 2, node: "b")))
        }

        @Test("merge is last-writer-wins: newer replaces, older and equal are ignored, ties go to the larger node")
        func lastWriterWins() {
            var shard = RetainedShard()
            #expect(shard.merge(Self.record("a", "first", 100, "n1")) == true)
            #expect(shard.merge(Self.record("a", "newer", 200, "n1")) == true)
            #expect(Self.payload(shard, "a") == "newer")

            #expect(shard.merge(Self.record("a", "older", 150, "n9")) == false)
            #expect(shard.merge(Self.record("a", "equal", 200, "n1")) == false)
            #expect(Self.payload(shard, "a") == "newer")
            #expect(Self.version(shard, "a") == RetainedVersion(stamp: 200, node: "n1"))

            #expect(shard.merge(Self.record("a", "tie-n2", 200, "n2")) == true)
            #expect(shard.merge(Self.record("a", "tie-n0", 200, "n0")) == false)
            #expect(Self.payload(shard, "a") == "tie-n2")
            #expect(Self.version(shard, "a") == RetainedVersion(stamp: 200, node: "n2"))

            // Other topics are independent.
            #expect(shard.merge(Self.record("b", "b1", 1, "n0")) == true)
            #expect(shard.records.map(\.topic) == ["a", "b"])
            #expect(Set(shard.match("#", now: Self.t0).map { String(buffer: $0.payload) }) == ["tie-n2", "b1"])
        }

        // MARK: Tombstones

        @Test("an empty payload accepted deletes the message and leaves a tombstone older writes cannot pass")
        func tombstoneFromAccept() {
            var shard = RetainedShard()
            _ = shard.accept(message("a", "x"), now: Timestamp(milliseconds: 100), node: "n1")
            let deletion = shard.accept(message("a", ""), now: Timestamp(milliseconds: 200), node: "n1")
            #expect(deletion.message == nil)
            #expect(deletion.version == RetainedVersion(stamp: 200, node: "n1"))
            #expect(shard.records == [deletion])
            #expect(shard.count == 0)
            #expect(!shard.isEmpty)
            #expect(shard.match("#", now: Self.t0).isEmpty)
            #expect(shard.match("a", now: Self.t0).isEmpty)

            // The copy of the old message another store still has does not come back.
            #expect(shard.merge(Self.record("a", "x", 100, "n1")) == false)
            #expect(shard.merge(Self.record("a", "x", 199, "n9")) == false)
            #expect(shard.match("a", now: Self.t0).isEmpty)
            #expect(shard.records == [deletion])

            // A later write does.
            #expect(shard.merge(Self.record("a", "y", 250, "n2")) == true)
            #expect(Self.payload(shard, "a") == "y")
        }

        @Test("a merged deletion (nil message) leaves a tombstone, also for a topic never seen")
        func tombstoneFromMerge() {
            var shard = RetainedShard()
            #expect(shard.merge(Self.record("a", "x", 100, "n1")) == true)
            #expect(shard.merge(Self.record("a", nil, 300, "n2")) == true)
            #expect(shard.match("a", now: Self.t0).isEmpty)
            #expect(shard.merge(Self.record("a", "z", 299, "zz")) == false)
            #expect(shard.merge(Self.record("a", "z", 300, "n1")) == false)
            #expect(shard.count == 0)

            #expect(shard.merge(Self.record("fresh", nil, 50, "n1")) == true)
            #expect(shard.merge(Self.record("fresh", "late", 49, "n1")) == false)
            #expect(shard.records.map(\.topic) == ["a", "fresh"])
            #expect(shard.records.allSatisfy { $0.message == nil })
            #expect(shard.match("#", now: Self.t0).isEmpty)

            // An equal-version deletion after a message is not applied either (equal is ignored).
            #expect(shard.merge(Self.record("b", "kept", 10, "n1")) == true)
            #expect(shard.merge(Self.record("b", nil, 10, "n1")) == false)
            #expect(Self.payload(shard, "b") == "kept")
        }

        @Test("an expired message removed keeps its version, so a replica's stale copy does not return")
        func expiryKeepsVersion() {
            var shard = RetainedShard()
            let m = message("e", "soon", expiresAt: Self.t0.adding(milliseconds: 10))
            let record = shard.accept(m, now: Self.t0, node: "n1")
            #expect(shard.removeExpired(now: Self.t0.adding(milliseconds: 10)) == 1)
            #expect(shard.count == 0)
            #expect(shard.records.map(\.version) == [record.version])
            #expect(shard.records.first?.message == nil)
            #expect(shard.merge(record) == false)
            #expect(shard.count == 0)

            shard.removeAll()
            #expect(shard.isEmpty)
            #expect(shard.records.isEmpty)
        }

        // MARK: Convergence

        /// Records over a few topics with distinct versions (one store never stamps twice), some deletions,
        /// some delivered twice.
        static func randomRecords(_ rng: inout SplitMix64) -> [RetainedRecord] {
            let topics: [TopicName] = ["a", "a/b", "a/c", "b", "$x/a", "a//b"]
            let nodes = ["n1", "n2", "n3"]
            var versions = (1...15).flatMap { stamp in nodes.map { RetainedVersion(stamp: Int64(stamp), node: $0) } }
            versions.shuffle(using: &rng)
            var records: [RetainedRecord] = []
            for version in versions.prefix(Int.random(in: 5...40, using: &rng)) {
                let topic = topics.randomElement(using: &rng)!
                let deleted = Int.random(in: 0..<10, using: &rng) < 3
                records.append(
                    RetainedRecord(
                        topic: topic, message: deleted ? nil : message(topic, "\(version.node)@\(version.stamp)"),
                        version: version))
                if Bool.random(using: &rng) { records.append(records[records.count - 1]) }
            }
            return records
        }

        @Test("two shards merging the same records in different orders converge", arguments: Array(1...40) as [UInt64])
        func convergence(seed: UInt64) {
            var rng = SplitMix64(seed: seed)
            let records = Self.randomRecords(&rng)

            var left = RetainedShard()
            var right = RetainedShard()
            for record in records.shuffled(using: &rng) { left.merge(record) }
            for record in records.shuffled(using: &rng) { right.merge(record) }
            var third = RetainedShard()
            for record in records.shuffled(using: &rng).reversed() { third.merge(record) }

            // The model: per topic, the record with the largest version.
            var latest: [TopicName: RetainedRecord] = [:]
            for record in records where latest[record.topic].map({ $0.version < record.version }) ?? true {
                latest[record.topic] = record
            }
            let expected = latest.values.sorted { $0.topic < $1.topic }

            #expect(left.records == expected, "seed \(seed)")
            #expect(right.records == left.records, "seed \(seed)")
            #expect(third.records == left.records, "seed \(seed)")
            let leftMatch = Set(left.match("#", now: Self.t0))
            #expect(leftMatch == Set(right.match("#", now: Self.t0)), "seed \(seed)")
            #expect(leftMatch == Set(expected.compactMap(\.message).filter { !$0.topic.isSystemTopic }))
            #expect(Set(left.match("$x/#", now: Self.t0)) == Set(right.match("$x/#", now: Self.t0)))
            #expect(left.count == expected.filter { $0.message != nil }.count)

            // Replaying everything again changes nothing: each merge now reports false.
            for record in records { #expect(left.merge(record) == false, "seed \(seed) replay \(record.topic)") }
            #expect(left.records == expected)
        }
    }
}
