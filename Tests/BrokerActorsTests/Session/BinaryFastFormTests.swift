import ClusterTransport
import MQTTCore
import NIOCore
import Testing

@testable import BrokerActors

/// An ordinary `Codable` struct holding fast values, as `DurableRecord` and the actors' arguments do.
struct FastFormHolder: Codable, Hashable {
    var message: Message
    var outputs: [SessionOutput]
    var event: SessionEvent?
    var routed: [String: RoutedMessage]
    var count: Int
}

/// Round trips of the broker's fast binary forms through `BinaryEncoder` / `BinaryDecoder`.
@Suite struct BinaryFastFormTests {
    /// Checks `value` alone, in an array, as an optional and inside a non-fast struct; and that it is in its fast
    /// form (one bytes value).
    static func checkRoundTrips<T: BinaryFastCodable & Equatable>(
        _ value: T, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let encoded = try fastEncode(value)
        #expect(encoded.getInteger(at: 0, as: UInt8.self) == 0x08, sourceLocation: sourceLocation)
        #expect(try fastDecode(T.self, encoded) == value, sourceLocation: sourceLocation)
        let pair = [value, value]
        #expect(try fastDecode([T].self, try fastEncode(pair)) == pair, sourceLocation: sourceLocation)
        #expect(try fastDecode(T?.self, try fastEncode(T?.some(value))) == value, sourceLocation: sourceLocation)
        let someNone = T??.some(.none)
        #expect(try fastDecode(T??.self, try fastEncode(someNone)) == someNone, sourceLocation: sourceLocation)
        // Its Codable form (what an older node or data directory wrote) still decodes.
        let legacy = try fastEncode(ViaCodable(value: value))
        #expect(try fastDecode(T.self, legacy) == value, sourceLocation: sourceLocation)
    }

    @Test(arguments: 0..<8)
    func everyTypeRoundTrips(seed: UInt64) throws {
        var g = FastFormGenerator(seed: 0xFA57_0000 &+ seed)
        for _ in 0..<25 {
            try Self.checkRoundTrips(g.properties())
            try Self.checkRoundTrips(g.message())
            try Self.checkRoundTrips(g.delivery())
            try Self.checkRoundTrips(g.sessionDelivery())
            try Self.checkRoundTrips(g.outgoingPublish())
            try Self.checkRoundTrips(g.sessionOutput())
            try Self.checkRoundTrips(g.groupKey())
            try Self.checkRoundTrips(g.selection())
            try Self.checkRoundTrips(g.routedMessage())
            try Self.checkRoundTrips(g.timers())
            if let will = g.will() { try Self.checkRoundTrips(will) }
            try Self.checkRoundTrips(g.subscription())
            try Self.checkRoundTrips(g.event())
            let holder = FastFormHolder(
                message: g.message(), outputs: (0..<g.int(0...3)).map { _ in g.sessionOutput() },
                event: g.chance(0.5) ? g.event() : nil, routed: ["a": g.routedMessage(), "b": g.routedMessage()],
                count: g.int(-5...5))
            #expect(try fastDecode(FastFormHolder.self, try fastEncode(holder)) == holder)
        }
    }

    @Test(arguments: 0..<8)
    func replicaUpdatesRoundTrip(seed: UInt64) throws {
        var g = FastFormGenerator(seed: 0x5E9_0000 &+ seed)
        for _ in 0..<10 {
            let batch = (0..<g.int(0...6)).map { _ in g.replicaUpdate() }
            let encoded = try fastEncode(batch)
            #expect(encoded.getInteger(at: 0, as: UInt8.self) == 0x08)
            let decoded = try fastDecode([ReplicaUpdate].self, encoded)
            #expect(decoded.map(ReplicaUpdateObservation.init) == batch.map(ReplicaUpdateObservation.init))
            let legacy = try fastDecode([ReplicaUpdate].self, try fastEncode(batch.map { ViaCodable(value: $0) }))
            #expect(legacy.map(ReplicaUpdateObservation.init) == batch.map(ReplicaUpdateObservation.init))
        }
        // A snapshot travels whole, and a replica built from it behaves as the original.
        let snapshot = g.snapshot()
        let update = ReplicaUpdate(clientID: snapshot.state.clientID, sequence: 4, change: .snapshot(snapshot))
        let decoded = try fastDecode(ReplicaUpdate.self, try fastEncode(update))
        guard case .snapshot(let copy) = decoded.change else { Issue.record("not a snapshot"); return }
        #expect(SessionObservation(copy) == SessionObservation(snapshot))
    }

    @Test func durableRecordsRoundTripWithFastValuesInside() throws {
        var g = FastFormGenerator(seed: 77)
        for _ in 0..<30 {
            let event = g.event()
            let record = DurableRecord.event(g.clientID(), sequence: UInt64(g.int(0...99)), event)
            guard case .event(_, _, let decoded) = try fastDecode(DurableRecord.self, try fastEncode(record)) else {
                Issue.record("decoded another record")
                return
            }
            #expect(decoded == event)
        }
    }

    /// The fast forms are written by hand: a stored property added to a type must be added to its form too.
    @Test func theFastFormsCoverEveryStoredProperty() {
        var g = FastFormGenerator(seed: 1)
        let counts: [(String, Int, Int)] = [
            ("MessageProperties", Mirror(reflecting: g.properties()).children.count, 5),
            ("Message", Mirror(reflecting: g.message()).children.count, 7),
            ("Delivery", Mirror(reflecting: g.delivery()).children.count, 4),
            ("SessionDelivery", Mirror(reflecting: g.sessionDelivery()).children.count, 3),
            ("OutgoingPublish", Mirror(reflecting: g.outgoingPublish()).children.count, 6),
            ("SharedGroupKey", Mirror(reflecting: g.groupKey()).children.count, 2),
            ("RouteSelection", Mirror(reflecting: g.selection()).children.count, 2),
            ("RoutedMessage", Mirror(reflecting: g.routedMessage()).children.count, 3),
            ("SessionTimers", Mirror(reflecting: g.timers()).children.count, 2),
            ("WillMessage", Mirror(reflecting: WillMessage(message: g.message(), delayInterval: 0)).children.count, 3),
            ("StoredSubscription", Mirror(reflecting: g.subscription()).children.count, 3),
            ("SubscriptionOptions", Mirror(reflecting: g.subscription().options).children.count, 4),
            ("ReplicaUpdate", Mirror(reflecting: g.replicaUpdate()).children.count, 3),
            ("Timestamp", Mirror(reflecting: g.timestamp()).children.count, 1),
            ("MQTTUserProperty", Mirror(reflecting: MQTTUserProperty("n", "v")).children.count, 2),
        ]
        for (name, found, written) in counts {
            #expect(found == written, "\(name) has \(found) stored properties; its fast form writes \(written)")
        }
    }

    /// The Codable form as the coder wrote it before any fast path (captured from that build): a data directory
    /// or an older node's batch still decodes.
    @Test func theOldCodableFormStillDecodes() throws {
        let decoded = try fastDecode([ReplicaUpdate].self, ByteBuffer(bytes: LegacyFixture.replicaUpdates))
        let expected = LegacyFixture.expectedReplicaUpdates()
        #expect(decoded.map(ReplicaUpdateObservation.init) == expected.map(ReplicaUpdateObservation.init))
        let routed = try fastDecode([RoutedMessage].self, ByteBuffer(bytes: LegacyFixture.routedMessages))
        #expect(routed == LegacyFixture.expectedRoutedMessages())
    }

    @Test func theFastFormIsSmallerThanTheCodableForm() throws {
        let batch = LegacyFixture.expectedReplicaUpdates()
        let fast = try fastEncode(batch).readableBytes
        let codable = try fastEncode(batch.map { ViaCodable(value: $0) }).readableBytes
        #expect(fast < codable)
        let legacy = LegacyFixture.replicaUpdates.count
        #expect(fast <= legacy / 2, "fast \(fast) bytes, legacy \(legacy)")
    }
}
