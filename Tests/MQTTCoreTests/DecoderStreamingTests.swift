import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@testable import MQTTCore

/// The decoder as a stream splitter: packets split anywhere, glued together, and oversize declarations.
@Suite("Decoder streaming")
struct DecoderStreamingTests {
    /// Feeds `chunks` one after another into one decoder, collecting packets as soon as they are complete.
    static func feed(
        _ chunks: [ArraySlice<UInt8>], into decoder: inout MQTTPacketDecoder
    ) throws(MQTTProtocolError) -> (packets: [MQTTPacket], leftover: Int) {
        var accumulated = ByteBuffer()
        var packets: [MQTTPacket] = []
        for chunk in chunks {
            accumulated.writeBytes(chunk)
            while let packet = try decoder.decodeNext(&accumulated) { packets.append(packet) }
        }
        return (packets, accumulated.readableBytes)
    }

    static func stream(_ packets: [MQTTPacket], _ version: MQTTProtocolVersion) -> [UInt8] {
        packets.flatMap { encoded($0, version) }
    }

    // MARK: NIOTestUtils verifier

    @Test("ByteToMessageDecoderVerifier, client role", arguments: [MQTTProtocolVersion.v3_1_1, .v5])
    func verifierClientRole(version: MQTTProtocolVersion) throws {
        let rows = version == .v5 ? PacketRoundTripTests.v5Cases : PacketRoundTripTests.v311Cases
        let pairs = rows.map { row in (buffer(encoded(row.expected, version)), [row.expected]) }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) {
            MQTTPacketDecoder(role: .client, version: version)
        }
    }

    @Test("ByteToMessageDecoderVerifier, server role", arguments: [MQTTProtocolVersion.v3_1, .v3_1_1, .v5])
    func verifierServerRole(version: MQTTProtocolVersion) throws {
        // The server needs CONNECT first, so the whole session is one input (the verifier shuffles inputs).
        let packets = Fixtures.session(version)
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: [
            (buffer(Self.stream(packets, version)), packets)
        ]) {
            MQTTPacketDecoder(role: .server)
        }
    }

    // MARK: Splits

    @Test(
        "a session split at every byte boundary decodes to the same packets",
        arguments: [MQTTProtocolVersion.v3_1, .v3_1_1, .v5])
    func everySplitPoint(version: MQTTProtocolVersion) throws {
        let packets = Fixtures.session(version)
        let bytes = Self.stream(packets, version)
        for split in 0...bytes.count {
            var decoder = MQTTPacketDecoder(role: .server)
            let result = try Self.feed([bytes[..<split], bytes[split...]], into: &decoder)
            #expect(result.packets == packets, "split at \(split)")
            #expect(result.leftover == 0)
            #expect(decoder.version == version)
        }
    }

    @Test(
        "a session fed one byte at a time, and in seeded random chunks", arguments: [MQTTProtocolVersion.v3_1_1, .v5])
    func dripAndRandomChunks(version: MQTTProtocolVersion) throws {
        let packets = Fixtures.session(version)
        let bytes = Self.stream(packets, version)
        var decoder = MQTTPacketDecoder(role: .server)
        let drip = try Self.feed(bytes.indices.map { bytes[$0...$0] }, into: &decoder)
        #expect(drip.packets == packets)

        var rng = SplitMix64(seed: 0x5EED)
        for _ in 0..<200 {
            var chunks: [ArraySlice<UInt8>] = []
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + Int(rng.next() % 40))
                chunks.append(bytes[start..<end])
                start = end
            }
            var fresh = MQTTPacketDecoder(role: .server)
            #expect(try Self.feed(chunks, into: &fresh).packets == packets)
        }
    }

    @Test("through ByteToMessageHandler on an EmbeddedChannel, split at every boundary of a PUBLISH")
    func embeddedChannelSplits() throws {
        let publish = Fixtures.publish(.atLeastOnce, id: 9, properties: Fixtures.fullProperties(.publish))
        let bytes = encoded(publish, .v5) + encoded(.pingReq, .v5)
        for split in 0...bytes.count {
            let channel = EmbeddedChannel(
                handler: ByteToMessageHandler(MQTTPacketDecoder(role: .client, version: .v5)))
            try channel.writeInbound(buffer(Array(bytes[..<split])))
            try channel.writeInbound(buffer(Array(bytes[split...])))
            #expect(try channel.readInbound(as: MQTTPacket.self) == publish)
            #expect(try channel.readInbound(as: MQTTPacket.self) == .pingReq)
            #expect(try channel.readInbound(as: MQTTPacket.self) == nil)
            #expect(try channel.finish().isClean)
        }
    }

    @Test("an incomplete packet yields nothing and consumes nothing")
    func incompleteConsumesNothing() throws {
        let bytes = encoded(Fixtures.publish(.atLeastOnce, id: 1), .v5)
        for length in 0..<bytes.count {
            var decoder = MQTTPacketDecoder(role: .client, version: .v5)
            var input = buffer(Array(bytes[..<length]))
            #expect(try decoder.decodeNext(&input) == nil)
            #expect(input.readableBytes == length)
        }
    }

    // MARK: Maximum packet size

    struct OversizeCase: Sendable, CustomTestStringConvertible {
        let header: [UInt8]
        let maximum: Int
        var testDescription: String { "\(header.count)-byte header, maximum \(maximum)" }
    }

    static let oversize: [OversizeCase] = [
        .init(header: [0x30, 0x7F], maximum: 128),  // 2 + 127 = 129
        .init(header: [0x30, 0x80, 0x01], maximum: 130),  // 3 + 128 = 131
        .init(header: [0x32, 0xFF, 0xFF, 0x7F], maximum: 2_097_154),  // 4 + 2097151
        .init(header: [0x30, 0xFF, 0xFF, 0xFF, 0x7F], maximum: 1_048_576),  // 5 + 268435455
        .init(header: [0x30, 0xFF, 0xFF, 0xFF, 0x7F], maximum: 268_435_459),  // one under the largest possible
    ]

    @Test(
        "§3.1.2.11.4 Maximum Packet Size: a larger declared size is refused from the fixed header alone",
        arguments: oversize)
    func oversizeFromHeaderAlone(row: OversizeCase) throws {
        var decoder = MQTTPacketDecoder(role: .client, version: .v5, maximumPacketSize: row.maximum)
        // Every proper prefix of the header is simply incomplete.
        for length in 1..<row.header.count {
            var partial = buffer(Array(row.header[..<length]))
            #expect(try decoder.decodeNext(&partial) == nil)
        }
        var header = buffer(row.header)
        let error = protocolError { () throws(MQTTProtocolError) in _ = try decoder.decodeNext(&header) }
        #expect(error?.code == .packetTooLarge)
        #expect(error?.version == .v5)
    }

    @Test("the whole-packet size is compared, header included: exactly the maximum passes, one more fails")
    func oversizeBoundary() throws {
        let packet = Fixtures.publish(.atMostOnce, payload: Fixtures.payload(100))
        let bytes = encoded(packet, .v5)
        var atLimit = MQTTPacketDecoder(role: .client, version: .v5, maximumPacketSize: bytes.count)
        var input = buffer(bytes)
        #expect(try atLimit.decodeNext(&input) == packet)

        var underLimit = MQTTPacketDecoder(role: .client, version: .v5, maximumPacketSize: bytes.count - 1)
        var header = buffer(Array(bytes[..<2]))
        let error = protocolError { () throws(MQTTProtocolError) in _ = try underLimit.decodeNext(&header) }
        #expect(error?.code == .packetTooLarge)
    }

    @Test("an oversize CONNECT header is refused on a fresh server connection, and via the channel handler")
    func oversizeServerAndChannel() throws {
        var decoder = MQTTPacketDecoder(role: .server, maximumPacketSize: 1_024)
        var header = buffer([0x10, 0x80, 0x80, 0x01])  // CONNECT declaring 16384 bytes
        let error = protocolError { () throws(MQTTProtocolError) in _ = try decoder.decodeNext(&header) }
        #expect(error?.code == .packetTooLarge)
        #expect(error?.version == nil)

        let channel = EmbeddedChannel(
            handler: ByteToMessageHandler(MQTTPacketDecoder(role: .server, maximumPacketSize: 1_024)))
        #expect(throws: MQTTProtocolError.self) { try channel.writeInbound(buffer([0x10, 0x80, 0x80, 0x01])) }
        _ = try? channel.finish()
    }

    // MARK: Server role

    @Test("[MQTT-3.1.0-1] a non-CONNECT first packet is refused as soon as its first byte arrives")
    func firstPacketNotConnect() throws {
        var decoder = MQTTPacketDecoder(role: .server)
        var firstByte = buffer([0x30])  // PUBLISH; no length or body yet
        let error = protocolError { () throws(MQTTProtocolError) in _ = try decoder.decodeNext(&firstByte) }
        #expect(error?.code == .protocolError)
    }

    @Test("the server decodes later packets in the version CONNECT announced")
    func serverAdoptsVersion() throws {
        // The same bytes mean different things in 3.1.1 and 5: a v5 PUBACK may carry a reason code.
        let pubAck = hex("40 03 00 01 10")
        for (version, expectThrow) in [(MQTTProtocolVersion.v3_1_1, true), (.v5, false)] {
            var decoder = MQTTPacketDecoder(role: .server)
            var input = buffer(encoded(Fixtures.connect(version), version) + pubAck)
            #expect(try decoder.decodeNext(&input) == Fixtures.connect(version))
            let error = protocolError { () throws(MQTTProtocolError) in _ = try decoder.decodeNext(&input) }
            #expect((error != nil) == expectThrow)
            if let error { #expect(error.code == .malformedPacket && error.version == version) }
        }
    }
}

/// A small deterministic generator so property-style tests reproduce exactly.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
