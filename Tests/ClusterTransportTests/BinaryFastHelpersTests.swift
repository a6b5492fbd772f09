import NIOCore
import Testing

@testable import ClusterTransport

/// The `ByteBuffer` helpers for `BinaryFastCodable` implementers.
@Suite("BinaryFastCodable helpers")
struct BinaryFastHelpersTests {
    /// A buffer whose reader index is not 0 (as a slice of a frame is not), with `bytes` readable.
    static func offsetBuffer(_ bytes: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer(bytes: [0xEE, 0xEE, 0xEE] + bytes)
        buffer.moveReaderIndex(forwardBy: 3)
        return buffer
    }

    @Test(arguments: [0, 1, 127, 128, 255, 16_383, 16_384, UInt64(UInt32.max), UInt64.max - 1, UInt64.max] as [UInt64])
    func varintsRoundTripAtTheirBoundaries(value: UInt64) throws {
        var buffer = ByteBuffer()
        buffer.writeFastVarint(value)
        #expect(buffer.readableBytes == binaryVarintSize(value))
        var copy = Self.offsetBuffer(bcBytes(buffer))
        #expect(try copy.readFastVarint() == value)
        #expect(copy.readableBytes == 0)
    }

    @Test(arguments: [0, 1, -1, 63, -64, 64, -65, .max, .min] as [Int64])
    func zigZagRoundTrips(value: Int64) throws {
        var buffer = ByteBuffer()
        buffer.writeFastZigZag(value)
        #expect(try buffer.readFastZigZag() == value)
        #expect(buffer.readableBytes == 0)
    }

    @Test func smallMagnitudesOfEitherSignTakeOneByte() {
        for value: Int64 in [-64, -1, 0, 1, 63] {
            var buffer = ByteBuffer()
            buffer.writeFastZigZag(value)
            #expect(buffer.readableBytes == 1)
        }
    }

    @Test func narrowingReadsCheckTheRange() throws {
        var buffer = ByteBuffer()
        buffer.writeFastVarint(65_536)
        bcExpectCode(.valueOutOfRange) { try buffer.readFastVarint(as: UInt16.self) }
        buffer = ByteBuffer()
        buffer.writeFastZigZag(Int64(Int32.min) - 1)
        bcExpectCode(.valueOutOfRange) { try buffer.readFastZigZag(as: Int32.self) }
        buffer = ByteBuffer()
        buffer.writeFastZigZag(Int64(Int32.min))
        #expect(try buffer.readFastZigZag(as: Int32.self) == .min)
    }

    @Test func malformedVarintsThrow() {
        var truncated = Self.offsetBuffer([0x80, 0x80])
        bcExpectCode(.truncated) { try truncated.readFastVarint() }
        var tooLong = Self.offsetBuffer(Array(repeating: 0xFF, count: 9) + [0x02])
        bcExpectCode(.valueOutOfRange) { try tooLong.readFastVarint() }
        var empty = ByteBuffer()
        bcExpectCode(.truncated) { try empty.readFastVarint() }
    }

    @Test func stringsRoundTripAndAreValidated() throws {
        for text in ["", "plain", "ünïcödé/тема/😀", String(repeating: "x", count: 300)] {
            var buffer = ByteBuffer()
            buffer.writeFastString(text)
            var copy = Self.offsetBuffer(bcBytes(buffer))
            #expect(try copy.readFastString() == text)
            #expect(copy.readableBytes == 0)
        }
        var invalid = Self.offsetBuffer([0x02, 0xC3, 0x28])
        bcExpectCode(.invalidUTF8) { try invalid.readFastString() }
        var truncated = Self.offsetBuffer([0x05, 0x61, 0x62])
        bcExpectCode(.truncated) { try truncated.readFastString() }
    }

    @Test func bytesAreASliceOfTheBuffer() throws {
        var buffer = ByteBuffer()
        buffer.writeFastBytes(ByteBuffer(bytes: [1, 2, 3]))
        buffer.writeFastBytes(ByteBuffer())
        var copy = Self.offsetBuffer(bcBytes(buffer))
        let start = copy.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        let first = try copy.readFastBytes()
        #expect(bcBytes(first) == [1, 2, 3])
        #expect(try copy.readFastBytes().readableBytes == 0)
        #expect(copy.readableBytes == 0)
        // No copy: the slice's bytes are the buffer's own, just past the length byte.
        #expect(first.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } == start + 1)
    }

    @Test func aDeclaredLengthOrCountBeyondTheBytesThrowsBeforeAnything() {
        for declared: UInt64 in [4, 1 << 40, .max] {
            var header = ByteBuffer()
            header.writeFastVarint(declared)
            let bytes = bcBytes(header) + [1, 2, 3]
            var forBytes = bcBuffer(bytes)
            bcExpectCode(.truncated) { try forBytes.readFastBytes() }
            var forString = bcBuffer(bytes)
            bcExpectCode(.truncated) { try forString.readFastString() }
            var forCount = bcBuffer(bytes)
            bcExpectCode(.truncated) { try forCount.readFastCount() }
            var forArray = bcBuffer(bytes)
            bcExpectCode(.truncated) { try [FastPair](readingBinary: &forArray) }
        }
        var exact = bcBuffer([3, 1, 2, 3])
        #expect((try? exact.readFastCount()) == 3)
    }

    @Test func boolsAndPresenceAcceptOnlyZeroAndOne() throws {
        var buffer = ByteBuffer()
        buffer.writeFastBool(true)
        buffer.writeFastBool(false)
        buffer.writeFastOptional(Int64(-5)) { $0.writeFastZigZag($1) }
        buffer.writeFastOptional(Int64?.none) { $0.writeFastZigZag($1) }
        #expect(bcBytes(buffer) == [1, 0, 1, 9, 0])
        #expect(try buffer.readFastBool() == true)
        #expect(try buffer.readFastBool() == false)
        #expect(try buffer.readFastOptional { try $0.readFastZigZag() } == -5)
        #expect(try buffer.readFastOptional { try $0.readFastZigZag() } == nil)
        var two = bcBuffer([2])
        bcExpectCode(.malformed) { try two.readFastBool() }
        var presence = bcBuffer([0xFF, 0])
        bcExpectCode(.malformed) { try presence.readFastOptional { try $0.readFastZigZag() } }
        var empty = ByteBuffer()
        bcExpectCode(.truncated) { try empty.readFastPresence() }
        bcExpectCode(.truncated) { try empty.readFastByte() }
    }

    @Test func arraysAreACountThenTheElements() throws {
        let pairs = [FastPair(a: "a", b: 1), FastPair(a: "", b: 300)]
        var buffer = ByteBuffer()
        try pairs.writeBinary(to: &buffer)
        #expect(bcBytes(buffer) == [2, 1, 0x61, 1, 0, 0xAC, 0x02])
        var copy = Self.offsetBuffer(bcBytes(buffer))
        #expect(try [FastPair](readingBinary: &copy) == pairs)
        var empty = ByteBuffer()
        try [FastPair]().writeBinary(to: &empty)
        #expect(bcBytes(empty) == [0])
        #expect(try bcRoundTrip([FastPair]()) == [])
    }
}
