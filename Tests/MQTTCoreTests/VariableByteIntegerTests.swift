import NIOCore
import Testing

@testable import MQTTCore

/// Section 1.5.5: the variable byte integer, used for the Remaining Length, property lengths and some properties.
@Suite("Variable byte integer")
struct VariableByteIntegerTests {
    /// The boundaries from the spec's table in 1.5.5, with their encodings.
    static let boundaries: [(Int, String)] = [
        (0, "00"),
        (127, "7f"),
        (128, "80 01"),
        (16_383, "ff 7f"),
        (16_384, "80 80 01"),
        (2_097_151, "ff ff 7f"),
        (2_097_152, "80 80 80 01"),
        (268_435_455, "ff ff ff 7f"),
    ]

    @Test("boundary values encode as the spec's table says and read back", arguments: boundaries)
    func boundary(value: Int, wire: String) throws {
        let bytes = hex(wire)
        var out = ByteBuffer()
        #expect(out.writeVariableByteInteger(value) == bytes.count)
        #expect(Array(out.readableBytesView) == bytes)
        #expect(ByteBuffer.variableByteIntegerSize(value) == bytes.count)
        var input = buffer(bytes + [0xEE])
        #expect(try input.readVariableByteInteger() == value)
        #expect(input.readableBytes == 1)  // exactly its own bytes were consumed
    }

    @Test("the largest value is the published maximum")
    func maximum() {
        #expect(ByteBuffer.maxVariableByteInteger == 268_435_455)
    }

    @Test("every prefix of an encoding is incomplete and consumes nothing", arguments: boundaries)
    func incomplete(value: Int, wire: String) throws {
        let bytes = hex(wire)
        for length in 0..<bytes.count {
            var input = buffer(Array(bytes[..<length]))
            #expect(try input.readVariableByteInteger() == nil)
            #expect(input.readableBytes == length)
        }
    }

    @Test("a fifth continuation byte is malformed, even before it arrives")
    func fiveBytes() {
        for wire in ["ff ff ff ff 7f", "80 80 80 80 01", "ff ff ff ff"] {
            var input = buffer(hex(wire))
            let error = protocolError { () throws(MQTTProtocolError) in _ = try input.readVariableByteInteger() }
            #expect(error?.code == .malformedPacket, "\(wire)")
        }
    }

    @Test("seeded random values round trip and use the predicted size")
    func randomValues() throws {
        var rng = SplitMix64(seed: 99)
        for _ in 0..<5_000 {
            let value = Int(rng.next() % UInt64(ByteBuffer.maxVariableByteInteger + 1))
            var out = ByteBuffer()
            let written = out.writeVariableByteInteger(value)
            #expect(written == ByteBuffer.variableByteIntegerSize(value))
            #expect(try out.readVariableByteInteger() == value)
        }
    }

    /// The encoder reserves four bytes for a length and moves the body back when fewer are needed.
    @Test(
        "length-prefixed bodies at every size boundary",
        arguments: [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152])
    func lengthPrefix(bodyLength: Int) throws {
        var out = ByteBuffer(bytes: [0xAB, 0xCD])
        out.moveReaderIndex(forwardBy: 1)  // a non-zero reader index must not upset the move
        let body = (0..<bodyLength).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let returned = out.writeWithVariableLengthPrefix { $0.writeBytes(body) }
        #expect(returned == bodyLength)
        #expect(out.readInteger(as: UInt8.self) == 0xCD)
        #expect(try out.readVariableByteInteger() == bodyLength)
        #expect(out.readableBytes == bodyLength)
        #expect(out.readBytes(length: bodyLength) == body)
    }

    @Test("nested prefixes (a property block inside a packet) both shrink correctly")
    func nestedPrefixes() throws {
        var out = ByteBuffer()
        out.writeWithVariableLengthPrefix { outer in
            outer.writeInteger(UInt8(0x11))
            outer.writeWithVariableLengthPrefix { $0.writeRepeatingByte(0x22, count: 200) }
            outer.writeInteger(UInt8(0x33))
        }
        #expect(try out.readVariableByteInteger() == 1 + 2 + 200 + 1)
        #expect(out.readInteger(as: UInt8.self) == 0x11)
        #expect(try out.readVariableByteInteger() == 200)
        #expect(out.readBytes(length: 200) == Array(repeating: 0x22, count: 200))
        #expect(out.readInteger(as: UInt8.self) == 0x33)
        #expect(out.readableBytes == 0)
    }
}
