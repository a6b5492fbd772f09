import ClusterTransport
import Foundation
import MQTTCore
import NIOCore
import Testing

@testable import BrokerActors

/// Builders and readers for the data-directory tests.
enum DurableFixtures {
    static let t0 = Timestamp(milliseconds: 1_700_000_000_000)

    /// A fresh directory under the system's temporary directory; remove it with `cleanUp`.
    static func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("starling-durable-\(UUID().uuidString)").path
    }

    static func cleanUp(_ directory: String) { try? FileManager.default.removeItem(atPath: directory) }

    static func snapshot(_ client: ClientID, filters: [TopicFilter] = [], connected: Bool = false) -> SessionSnapshot {
        var state = SessionState(clientID: client, expiryInterval: 3600, queueCapacity: 50)
        for filter in filters {
            state.subscriptions[filter.rawValue] = StoredSubscription(filter: filter, options: .init(qos: .exactlyOnce), identifier: 7)
        }
        if connected { _ = state.attach(receiveMaximum: 10, now: t0) }
        return SessionSnapshot(state: state, timers: SessionTimers(expiresAt: t0.adding(seconds: 3600)))
    }

    static func subscribed(_ filter: TopicFilter) -> SessionEvent {
        .subscribed([StoredSubscription(filter: filter, options: .init(qos: .atLeastOnce), identifier: nil)])
    }

    /// One queued message (the sessions here are offline): applying it twice shows in the queue's count.
    static func delivered(_ payload: String) -> SessionEvent {
        let message = Message(topic: try! TopicName(validating: "t/\(payload)"), payload: ByteBuffer(string: payload), qos: .atLeastOnce)
        return .delivered([SessionDelivery(message: message, delivery: Delivery(clientID: "c", qos: .exactlyOnce))], now: t0)
    }

    static func retained(_ topic: TopicName, _ payload: String?, stamp: Int64, node: String = "n1") -> RetainedRecord {
        RetainedRecord(
            topic: topic, message: payload.map { Message(topic: topic, payload: ByteBuffer(string: $0), qos: .atLeastOnce, retain: true) },
            version: RetainedVersion(stamp: stamp, node: node))
    }

    /// Everything a `RestoredState` holds, in a comparable form.
    struct Summary: Equatable, CustomStringConvertible {
        var sessions: [ClientID: Entry]
        var retained: [Int: [TopicName: RetainedRecord]]

        struct Entry: Equatable {
            var sequence: UInt64
            var observation: SessionObservation
        }

        init(_ state: RestoredState) {
            sessions = state.sessions.mapValues { Entry(sequence: $0.sequence, observation: SessionObservation($0.snapshot)) }
            retained = state.retained
        }

        var description: String {
            let s = sessions.keys.sorted().map { "\($0)@\(sessions[$0]!.sequence) subs \(sessions[$0]!.observation.subscriptions.keys.sorted()) queue \(sessions[$0]!.observation.queueCount)" }
            return "sessions \(s), retained \(retained.mapValues { $0.mapValues { $0.version.stamp } })"
        }
    }

    static func fold(_ records: [DurableRecord]) -> RestoredState {
        var state = RestoredState()
        for record in records { state.apply(record) }
        return state
    }

    static func files(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }

    static func logPath(_ directory: String) throws -> String {
        let logs = files(directory).filter { $0.hasPrefix("log-") }
        try #require(logs.count == 1, "expected one log, found \(files(directory))")
        return directory + "/" + logs[0]
    }

    /// The byte ranges of the records of a data file: each is `u32 length, u64 checksum, payload`.
    static func frames(_ path: String) throws -> [(start: Int, payload: Range<Int>)] {
        let bytes = [UInt8](try #require(FileManager.default.contents(atPath: path)))
        var frames: [(Int, Range<Int>)] = []
        var offset = 0
        while offset + 12 <= bytes.count {
            let length = bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            frames.append((offset, offset + 12..<offset + 12 + length))
            offset += 12 + length
        }
        try #require(offset == bytes.count, "the file does not end at a record boundary")
        return frames
    }

    static func rewrite(_ path: String, _ change: (inout [UInt8]) throws -> Void) throws {
        var bytes = [UInt8](try #require(FileManager.default.contents(atPath: path)))
        try change(&bytes)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// Writes a data file directly (for states a crash leaves behind).
    static func writeFile(_ path: String, _ records: [DurableRecord]) throws {
        let log = try DurableLog(path: path, writesInBackground: false)
        for record in records { log.append(record) }
        try log.syncNow()
    }
}

@Suite struct RestoredStateTests {
    typealias F = DurableFixtures

    @Test func snapshotThenEventsApplyInOrder() {
        let state = F.fold([
            .generation(1),
            .session("c1", sequence: 3, F.snapshot("c1", filters: ["a"])),
            .event("c1", sequence: 4, F.subscribed("x")),
            .event("c1", sequence: 5, .unsubscribed(["x", "a"])),
            .event("c1", sequence: 6, F.subscribed("y")),
            .event("c1", sequence: 7, F.delivered("1")),
        ])
        #expect(state.sessions["c1"]?.sequence == 7)
        #expect(state.sessions["c1"]?.snapshot.state.subscriptions.keys.sorted() == ["y"])
        #expect(state.sessions["c1"]?.snapshot.state.queue.count == 1)
        #expect(state.skippedEvents == 0)
    }

    @Test func eventsTheSnapshotAlreadyHoldsAreSkipped() {
        // The snapshot was taken while the log was still being written: it holds events 4 and 5 already.
        var snapshot = F.snapshot("c1")
        snapshot.apply(F.delivered("4"))
        snapshot.apply(F.delivered("5"))
        let state = F.fold([
            .event("c1", sequence: 4, F.delivered("4")),  // before the snapshot in the file: no session yet
            .session("c1", sequence: 5, snapshot),
            .event("c1", sequence: 4, F.delivered("4")),
            .event("c1", sequence: 5, F.delivered("5")),
            .event("c1", sequence: 6, F.delivered("6")),
        ])
        #expect(state.sessions["c1"]?.sequence == 6)
        #expect(state.sessions["c1"]?.snapshot.state.queue.elements.map { String(buffer: $0.message.payload) } == ["4", "5", "6"])
        #expect(state.skippedEvents == 1)
    }

    @Test func anEventWithoutASnapshotIsCounted() {
        var state = F.fold([.event("c9", sequence: 1, F.subscribed("x")), .event("c9", sequence: 2, F.subscribed("y"))])
        #expect(state.sessions.isEmpty)
        #expect(state.skippedEvents == 2)
        state.apply(.session("c9", sequence: 2, F.snapshot("c9")))
        state.apply(.event("c9", sequence: 3, F.subscribed("z")))
        #expect(state.sessions["c9"]?.snapshot.state.subscriptions.keys.sorted() == ["z"])
        #expect(state.skippedEvents == 2)
    }

    /// `skippedEvents` is documented as counting events "that could not be applied (no snapshot before them, or a
    /// gap in the sequence)": an event that does not follow the session's sequence must not be applied.
    @Test func anEventAfterAGapIsSkippedAndCounted() {
        let state = F.fold([
            .session("c1", sequence: 5, F.snapshot("c1")),
            .event("c1", sequence: 8, F.subscribed("x")),  // 6 and 7 are missing
        ])
        #expect(state.sessions["c1"]?.snapshot.state.subscriptions.isEmpty == true)
        #expect(state.sessions["c1"]?.sequence == 5)
        #expect(state.skippedEvents == 1)
    }

    @Test func sessionEndedRemovesTheSession() {
        let state = F.fold([
            .session("c1", sequence: 1, F.snapshot("c1")),
            .session("c2", sequence: 1, F.snapshot("c2")),
            .event("c1", sequence: 2, F.subscribed("x")),
            .sessionEnded("c1"),
            .event("c1", sequence: 3, F.subscribed("y")),
            .sessionEnded("c3"),  // unknown: nothing happens
        ])
        #expect(Array(state.sessions.keys) == ["c2"])
        #expect(state.skippedEvents == 1)
        // A new session of the same client starts over from its own snapshot.
        var again = state
        again.apply(.session("c1", sequence: 1, F.snapshot("c1", filters: ["n"])))
        #expect(again.sessions["c1"]?.snapshot.state.subscriptions.keys.sorted() == ["n"])
    }

    /// A session record later in the files was written later (a restored or adopted session stored afresh, its
    /// sequence counting from its new start), and the events after it follow it: it replaces what came before.
    @Test func aLaterSnapshotReplacesAnEarlierOneWhateverItsSequence() {
        let state = F.fold([
            .session("c1", sequence: 7, F.snapshot("c1", filters: ["old"])),
            .session("c1", sequence: 0, F.snapshot("c1", filters: ["new"])),
            .event("c1", sequence: 1, F.subscribed("later")),
        ])
        #expect(state.sessions["c1"]?.sequence == 1)
        #expect(state.sessions["c1"]?.snapshot.state.subscriptions.keys.sorted() == ["later", "new"])
    }

    @Test func retainedRecordsMergeLastWriterWins() {
        let state = F.fold([
            .retained(shard: 0, F.retained("t", "v5", stamp: 5, node: "a")),
            .retained(shard: 0, F.retained("t", "v3", stamp: 3, node: "z")),  // older stamp, larger node: loses
            .retained(shard: 0, F.retained("t", "v5b", stamp: 5, node: "b")),  // same stamp: the larger node wins
            .retained(shard: 0, F.retained("t", "again", stamp: 5, node: "b")),  // the same version again: kept first
            .retained(shard: 0, F.retained("u", "u1", stamp: 1)),
            .retained(shard: 0, F.retained("u", nil, stamp: 2)),  // a deletion is kept as a tombstone
            .retained(shard: 0, F.retained("u", "u0", stamp: 1)),  // and an older write does not bring it back
            .retained(shard: 3, F.retained("t", "other shard", stamp: 1)),
        ])
        #expect(state.retained[0]?["t"] == F.retained("t", "v5b", stamp: 5, node: "b"))
        #expect(state.retained[0]?["u"] == F.retained("u", nil, stamp: 2))
        #expect(state.retained[3]?["t"] == F.retained("t", "other shard", stamp: 1))
        #expect(state.retained.count == 2)
    }
}

@Suite struct DurableStoreTests {
    typealias F = DurableFixtures

    static let sample: [DurableRecord] = [
        .session("c1", sequence: 1, F.snapshot("c1", filters: ["a/#"])),
        .event("c1", sequence: 2, F.subscribed("b/+")),
        .event("c1", sequence: 3, F.delivered("m1")),
        .retained(shard: 0, F.retained("r/1", "one", stamp: 10)),
        .session("c2", sequence: 4, F.snapshot("c2", connected: true)),
        .event("c2", sequence: 5, .detached(expiryInterval: 60, will: nil, timers: SessionTimers(expiresAt: F.t0))),
        .session("c3", sequence: 1, F.snapshot("c3")),
        .sessionEnded("c3"),
        .retained(shard: 2, F.retained("r/2", "two", stamp: 11)),
        .retained(shard: 2, F.retained("r/2", nil, stamp: 12)),
        .event("c1", sequence: 4, F.delivered("m2")),
    ]

    @Test func reopeningRestoresWhatWasAppended() async throws {
        let directory = F.temporaryDirectory()
        defer { F.cleanUp(directory) }
        let (store, empty) = try DurableStore.open(directory: directory)
        #expect(empty.sessions.isEmpty && empty.retained.isEmpty && empty.skippedEvents == 0)
        #expect(F.files(directory) == ["log-1.bin", "snapshot.bin"])
        for record in Self.sample { store.append(record) }
        await store.flush()

        let expected = F.Summary(F.fold(Self.sample))
        #expect(Set(expected.sessions.keys) == ["c1", "c2"])
        #expect(expected.sessions["c1"]?.observation.queueCount == 2)
        let (_, first) = try DurableStore.open(directory: directory)
        #expect(F.Summary(first) == expected)
        #expect(F.files(directory) == ["log-2.bin", "snapshot.bin"])
        // The second open reads what the first one compacted into the snapshot.
        let (_, second) = try DurableStore.open(directory: directory)
        #expect(F.Summary(second) == expected)
        #expect(F.files(directory) == ["log-3.bin", "snapshot.bin"])
        #expect(second.skippedEvents == 0)
    }

    /// Where the last record is cut: in its header, in its payload, one byte short.
    enum Cut: CaseIterable { case header, payload, lastByte }

    @Test(arguments: Cut.allCases)
    func aTornLastRecordIsDropped(cut: Cut) async throws {
        let directory = F.temporaryDirectory()
        defer { F.cleanUp(directory) }
        let (store, _) = try DurableStore.open(directory: directory)
        for record in Self.sample { store.append(record) }
        await store.flush()
        let log = try F.logPath(directory)
        let last = try #require(try F.frames(log).last)
        try F.rewrite(log) { bytes in
            switch cut {
            case .header: bytes.removeSubrange((last.start + 6)...)
            case .payload: bytes.removeSubrange((last.payload.lowerBound + last.payload.count / 2)...)
            case .lastByte: bytes.removeLast()
            }
        }
        let expected = F.Summary(F.fold(Self.sample.dropLast()))
        #expect(expected != F.Summary(F.fold(Self.sample)))
        let (_, restored) = try DurableStore.open(directory: directory)
        #expect(F.Summary(restored) == expected)
        let (_, again) = try DurableStore.open(directory: directory)
        #expect(F.Summary(again) == expected)
    }

    @Test(arguments: 0..<8)
    func garbageAfterTheLastRecordIsIgnored(seed: UInt64) async throws {
        let directory = F.temporaryDirectory()
        defer { F.cleanUp(directory) }
        let (store, _) = try DurableStore.open(directory: directory)
        for record in Self.sample { store.append(record) }
        await store.flush()
        var g = RoutingGenerator(seed: seed)
        try F.rewrite(try F.logPath(directory)) { bytes in
            if seed < 2 {
                // A plausible header: a small length, then a wrong checksum.
                bytes += [0, 0, 0, 3] + [UInt8](repeating: UInt8(seed), count: 8) + [1, 2, 3]
            } else {
                bytes += (0..<g.int(1...64)).map { _ in UInt8(g.int(0...255)) }
            }
        }
        let (_, restored) = try DurableStore.open(directory: directory)
        #expect(F.Summary(restored) == F.Summary(F.fold(Self.sample)))
    }

    @Test(arguments: [false, true])
    func aCorruptRecordEndsTheRead(stillDecodes: Bool) async throws {
        let directory = F.temporaryDirectory()
        defer { F.cleanUp(directory) }
        let (store, _) = try DurableStore.open(directory: directory)
        let records: [DurableRecord] = [
            .session("c1", sequence: 1, F.snapshot("c1")),
            .session("c2", sequence: 1, F.snapshot("c2")),
            .session("c3", sequence: 1, F.snapshot("c3")),
            .retained(shard: 0, F.retained("r", "x", stamp: 1)),
        ]
        for record in records { store.append(record) }
        await store.flush()
        let log = try F.logPath(directory)
        let second = try F.frames(log)[1]
        try F.rewrite(log) { bytes in
            guard stillDecodes else {
                bytes[second.payload.lowerBound + second.payload.count / 2] ^= 0x40
                return
            }
            // The client ID "c2" becomes "c7": the payload still decodes, only the checksum tells.
            let payload = Array(bytes[second.payload])
            let at = try #require((0..<payload.count - 1).first { payload[$0] == UInt8(ascii: "c") && payload[$0 + 1] == UInt8(ascii: "2") })
            bytes[second.payload.lowerBound + at + 1] = UInt8(ascii: "7")
        }
        let (_, restored) = try DurableStore.open(directory: directory)
        #expect(Array(restored.sessions.keys) == ["c1"])
        #expect(restored.retained.isEmpty)
    }

    @Test func compactionKeepsTheStateAndDeletesOldLogs() async throws {
        let directory = F.temporaryDirectory()
        defer { F.cleanUp(directory) }
        let (store, _) = try DurableStore.open(directory: directory)
        var written = Self.sample
        for record in Self.sample { store.append(record) }
        // While the state is being collected, the session changes: the change goes to the new log, and the
        // collected snapshot holds it too; replay must apply it once.
        let during = DurableRecord.event("c1", sequence: 5, F.delivered("during"))
        try await store.compact {
            store.append(during)
            written.append(during)
            return DurableStore.records(of: F.fold(written))
        }
        #expect(F.files(directory) == ["log-2.bin", "snapshot.bin"])
        let snapshot = try DurableLog.read(path: directory + "/snapshot.bin")
        #expect(!snapshot.truncated)
        guard case .generation(2) = snapshot.records.first else {
            Issue.record("snapshot starts with \(String(describing: snapshot.records.first))")
            return
        }
        let after: [DurableRecord] = [
            .event("c1", sequence: 6, F.delivered("after")),
            .retained(shard: 0, F.retained("r/1", "newer", stamp: 20)),
        ]
        for record in after { store.append(record) }
        await store.flush()
        let expected = F.Summary(F.fold(written + after))
        #expect(expected.sessions["c1"]?.observation.queueCount == 4)  // m1, m2, during, after
        let (_, restored) = try DurableStore.open(directory: directory)
        #expect(F.Summary(restored) == expected)
    }

    /// A crash during a compaction leaves a partial `snapshot.tmp`, a new log beside the old one, and (from an
    /// earlier crash) a log older than the snapshot: only the snapshot and the logs from its generation count.
    @Test func aCrashMidCompactionIsRecovered() async throws {
        let directory = F.temporaryDirectory()
        defer { F.cleanUp(directory) }
        let (store, _) = try DurableStore.open(directory: directory)  // snapshot of generation 1, log-1
        let inLog1: [DurableRecord] = [.session("c1", sequence: 1, F.snapshot("c1")), .event("c1", sequence: 2, F.subscribed("x"))]
        for record in inLog1 { store.append(record) }
        await store.flush()
        let inLog2: [DurableRecord] = [.event("c1", sequence: 3, F.subscribed("y")), .retained(shard: 1, F.retained("r", "v", stamp: 3))]
        try F.writeFile(directory + "/log-2.bin", inLog2)
        try F.writeFile(directory + "/log-0.bin", [.sessionEnded("c1"), .session("c0", sequence: 1, F.snapshot("c0"))])
        try F.writeFile(directory + "/snapshot.tmp", [.generation(2), .session("c9", sequence: 1, F.snapshot("c9"))])
        try F.rewrite(directory + "/snapshot.tmp") { $0.removeLast(3) }

        let expected = F.Summary(F.fold(inLog1 + inLog2))
        let (_, restored) = try DurableStore.open(directory: directory)
        #expect(F.Summary(restored) == expected)
        #expect(F.files(directory) == ["log-3.bin", "snapshot.bin"])
        let (_, again) = try DurableStore.open(directory: directory)
        #expect(F.Summary(again) == expected)
    }

    @Test func openingAnImpossiblePathNamesIt() throws {
        let directory = F.temporaryDirectory()
        defer { F.cleanUp(directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = directory + "/plain-file"
        #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        let target = file + "/data"
        do {
            _ = try DurableStore.open(directory: target)
            Issue.record("opened a data directory under a regular file")
        } catch let error as DurableStoreError {
            #expect(error.path == target)
            #expect(String(describing: error).contains(target))
        }
    }
}
