import ClusterTransport
import MQTTCore
import NIOCore
import Testing

@testable import BrokerActors

/// The fast forms read bytes from peers: truncated, corrupted or hostile input must throw, or decode to a valid
/// value, and never trap.
@Suite struct BinaryFastFormRobustnessTests {
    static func replicaBatch(_ g: inout FastFormGenerator) -> [ReplicaUpdate] {
        var batch = (0..<4).map { _ in g.replicaUpdate() }
        batch.append(ReplicaUpdate(clientID: g.clientID(), sequence: 3, change: .snapshot(g.snapshot())))
        batch.append(ReplicaUpdate(clientID: g.clientID(), sequence: 9, change: .events((0..<6).map { _ in g.event() })))
        return batch
    }

    static func routedBatch(_ g: inout FastFormGenerator) -> [RoutedMessage] {
        (0..<6).map { _ in g.routedMessage() }
    }

    /// Every strict prefix of the fast form throws, read directly and wrapped as a well-formed bytes value; every
    /// strict prefix of the coder's encoding throws.
    static func checkTruncations<T: BinaryFastCodable>(_ value: T, as type: T.Type) throws {
        let body = try fastBody(value)
        let encoded = Array(try fastEncode(value).readableBytesView)
        for length in 0..<body.count {
            var prefix = ByteBuffer(bytes: body[..<length])
            #expect(throws: (any Error).self, "fast prefix \(length) of \(body.count)") { try T(readingBinary: &prefix) }
            #expect(throws: (any Error).self, "wrapped prefix \(length)") {
                try fastDecode(T.self, fastWrapped(Array(body[..<length])))
            }
        }
        for length in 0..<encoded.count {
            #expect(throws: (any Error).self) { try fastDecode(T.self, ByteBuffer(bytes: encoded[..<length])) }
        }
    }

    @Test(arguments: 0..<3)
    func everyTruncationOfReplicaUpdatesThrows(seed: UInt64) throws {
        var g = FastFormGenerator(seed: 0x7A0_0000 &+ seed)
        try Self.checkTruncations(Self.replicaBatch(&g), as: [ReplicaUpdate].self)
    }

    @Test(arguments: 0..<3)
    func everyTruncationOfRoutedMessagesThrows(seed: UInt64) throws {
        var g = FastFormGenerator(seed: 0x7B0_0000 &+ seed)
        try Self.checkTruncations(Self.routedBatch(&g), as: [RoutedMessage].self)
        try Self.checkTruncations((0..<4).map { _ in g.sessionOutput() }, as: [SessionOutput].self)
    }

    /// Random byte changes, in the fast form (wrapped so the coder reaches it) and in the coder's encoding.
    /// Returns how many mutants decoded; each that did must survive another round trip unchanged.
    static func checkMutations<T: BinaryFastCodable>(
        _ value: T, as type: T.Type, rounds: Int, _ g: inout FastFormGenerator, same: (T, T) -> Bool
    ) throws -> Int {
        let body = try fastBody(value)
        let encoded = Array(try fastEncode(value).readableBytesView)
        var decoded = 0
        for round in 0..<rounds {
            var bytes = round % 2 == 0 ? body : encoded
            for _ in 0..<g.int(1...3) {
                let at = g.int(0...bytes.count - 1)
                bytes[at] = g.chance(0.5) ? bytes[at] ^ UInt8(1 << g.int(0...7)) : UInt8(g.int(0...255))
            }
            let input = round % 2 == 0 ? fastWrapped(bytes) : ByteBuffer(bytes: bytes)
            guard let mutant = try? fastDecode(T.self, input) else { continue }
            decoded += 1
            let again = try fastDecode(T.self, try fastEncode(mutant))
            #expect(same(again, mutant), "a decoded mutant changed on its next round trip")
        }
        return decoded
    }

    /// What a mutation test compares of an update. Not a snapshot's contents: it is read through `Codable`, which
    /// checks none of the session's invariants (a corrupted one need not be safe to inspect), and its dictionaries
    /// may re-encode in another order.
    struct Comparable: Equatable {
        var clientID: ClientID
        var sequence: UInt64
        var events: [SessionEvent]?
        var isSnapshot: Bool
    }

    static func comparable(_ update: ReplicaUpdate) -> Comparable {
        var events: [SessionEvent]?
        var isSnapshot = false
        switch update.change {
        case .snapshot: isSnapshot = true
        case .events(let list): events = list
        case .drop: break
        }
        return Comparable(clientID: update.clientID, sequence: update.sequence, events: events, isSnapshot: isSnapshot)
    }

    @Test(arguments: 0..<4)
    func randomByteChangesThrowOrDecodeToAValidValue(seed: UInt64) throws {
        var g = FastFormGenerator(seed: 0x7C0_0000 &+ seed)
        let replicas = try Self.checkMutations(Self.replicaBatch(&g), as: [ReplicaUpdate].self, rounds: 300, &g) {
            $0.map(Self.comparable) == $1.map(Self.comparable)
        }
        let routed = try Self.checkMutations(Self.routedBatch(&g), as: [RoutedMessage].self, rounds: 300, &g, same: ==)
        // Changing a payload byte leaves a valid value: if nothing ever decoded, the check above checked nothing.
        #expect(replicas > 0 && routed > 0, "decoded \(replicas) and \(routed) mutants")
    }

    @Test func oneHotTypeIsNotReadAsAnother() throws {
        var g = FastFormGenerator(seed: 0x7D0_0000)
        for _ in 0..<20 {
            let replicas = try fastEncode(Self.replicaBatch(&g))
            let routed = try fastEncode(Self.routedBatch(&g))
            let outputs = try fastEncode((0..<4).map { _ in g.sessionOutput() })
            #expect(throws: (any Error).self) { try fastDecode([RoutedMessage].self, replicas) }
            #expect(throws: (any Error).self) { try fastDecode([SessionOutput].self, replicas) }
            #expect(throws: (any Error).self) { try fastDecode([ReplicaUpdate].self, routed) }
            #expect(throws: (any Error).self) { try fastDecode([SessionOutput].self, routed) }
            #expect(throws: (any Error).self) { try fastDecode([ReplicaUpdate].self, outputs) }
            #expect(throws: (any Error).self) { try fastDecode([RoutedMessage].self, outputs) }
        }
    }

    // MARK: Values the types' own validation refuses

    /// Decodes `body` as the fast form of `T`, wrapped as the coder's bytes value.
    static func read<T: BinaryFastCodable>(_ type: T.Type, _ body: [UInt8]) throws -> T {
        try fastDecode(T.self, fastWrapped(body))
    }

    static func read<T: BinaryFastCodable>(_ type: T.Type, _ body: ByteBuffer) throws -> T {
        try read(T.self, Array(body.readableBytesView))
    }

    /// Writes a message's fast form field by field, so that a test can put in what no `Message` holds.
    static func messageBody(topic: String, flags: UInt8, publisher: String? = nil) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeFastString(topic)
        buffer.writeFastBytes(ByteBuffer(bytes: [1]))
        buffer.writeInteger(flags | (publisher != nil ? 1 << 3 : 0))
        if let publisher { buffer.writeFastString(publisher) }
        return Array(buffer.readableBytesView)
    }

    @Test(arguments: [
        ("a/+", UInt8(1)), ("#", 1), ("", 1), ("a\u{0}b", 1),  // invalid topic names
        ("ok", 3),  // QoS 3
        ("ok", 0x40),  // an unknown flag
    ])
    func messagesWithInvalidFieldsThrow(topic: String, flags: UInt8) {
        #expect(throws: BinaryCodingError.self) { try Self.read(Message.self, Self.messageBody(topic: topic, flags: flags)) }
    }

    @Test func invalidClientIDsThrow() throws {
        #expect(try Self.read(Message.self, Self.messageBody(topic: "t", flags: 1, publisher: "p")).publisher == "p")
        for publisher in ["", "a\u{0}"] {
            #expect(throws: BinaryCodingError.self) {
                try Self.read(Message.self, Self.messageBody(topic: "t", flags: 1, publisher: publisher))
            }
        }
    }

    @Test func invalidPacketIDsAndCasesThrow() throws {
        // pubAck with packet identifier 0 (then a timestamp); with 1 it decodes.
        #expect(throws: BinaryCodingError.self) { try Self.read(SessionEvent.self, [4, 0, 0]) }
        #expect(try Self.read(SessionEvent.self, [4, 1, 0]) == .pubAck(PacketID(rawValue: 1)!, now: Timestamp(milliseconds: 0)))
        // A packet identifier above 65535.
        #expect(throws: BinaryCodingError.self) { try Self.read(SessionEvent.self, [7, 0x80, 0x80, 0x04]) }
        // An unknown case, of each enum.
        #expect(throws: BinaryCodingError.self) { try Self.read(SessionEvent.self, [11]) }
        #expect(throws: BinaryCodingError.self) { try Self.read(SessionOutput.self, [2, 1]) }
        #expect(throws: BinaryCodingError.self) { try Self.read(ReplicaUpdate.self, [1, 0x63, 0, 3]) }
    }

    @Test func invalidFiltersAndOptionsThrow() throws {
        // unsubscribed from an invalid filter.
        var invalidFilter = ByteBuffer(bytes: [10, 1])
        invalidFilter.writeFastString("a/#/b")
        #expect(throws: BinaryCodingError.self) { try Self.read(SessionEvent.self, invalidFilter) }
        // subscribed with an invalid filter, an empty share name, or Retain Handling 3.
        for (filter, options) in [("a/#/b", UInt8(0)), ("a/+", 0x30), ("$share//x", 0)] {
            var subscribed = ByteBuffer(bytes: [9, 1])
            subscribed.writeFastString(filter)
            subscribed.writeInteger(options)
            #expect(throws: BinaryCodingError.self, "\(filter) \(options)") { try Self.read(SessionEvent.self, subscribed) }
        }
        var valid = ByteBuffer(bytes: [9, 1])
        valid.writeFastString("$share/g/a/+")
        valid.writeInteger(UInt8(0x21))
        let decoded = try Self.read(SessionEvent.self, valid)
        guard case .subscribed(let subscriptions) = decoded else { Issue.record("decoded \(decoded)"); return }
        #expect(subscriptions.map(\.filter.shareGroup) == ["g"])
        #expect(subscriptions.map(\.options.retainHandling) == [.doNotSend])
    }

    @Test func hugeDeclaredCountsThrowWithoutAllocating() {
        // An events list declaring 2^62 events in a few bytes; a user property list declaring 2^40 pairs.
        #expect(throws: BinaryCodingError.self) {
            try Self.read([ReplicaUpdate].self, [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40])
        }
        var properties = ByteBuffer(bytes: [0x10])
        properties.writeFastVarint(1 << 40)
        #expect(throws: BinaryCodingError.self) {
            try Self.read(MessageProperties.self, properties)
        }
    }
}
