import NIOCore
import Testing

@testable import ClusterTransport

// MARK: Types for the tests

/// A fast type with one field of every helper kind.
struct FastPoint: BinaryFastCodable, Hashable {
    var x: Int64
    var count: UInt32
    var name: String
    var data: ByteBuffer
    var label: String?
    var flag: Bool

    func writeBinary(to buffer: inout ByteBuffer) throws {
        buffer.writeFastZigZag(x)
        buffer.writeFastVarint(UInt64(count))
        buffer.writeFastString(name)
        buffer.writeFastBytes(data)
        buffer.writeFastOptional(label) { $0.writeFastString($1) }
        buffer.writeFastBool(flag)
    }

    init(x: Int64, count: UInt32, name: String, data: ByteBuffer, label: String?, flag: Bool) {
        (self.x, self.count, self.name, self.data, self.label, self.flag) = (x, count, name, data, label, flag)
    }

    init(readingBinary buffer: inout ByteBuffer) throws {
        x = try buffer.readFastZigZag()
        count = try buffer.readFastVarint(as: UInt32.self)
        name = try buffer.readFastString()
        data = try buffer.readFastBytes()
        label = try buffer.readFastOptional { try $0.readFastString() }
        flag = try buffer.readFastBool()
    }
}

/// The same fields without the fast path: its encoding is `FastPoint`'s `Codable` form.
struct LegacyPoint: Codable {
    var x: Int64
    var count: UInt32
    var name: String
    var data: ByteBuffer
    var label: String?
    var flag: Bool
}

/// A different fast type, for decoding one type's bytes as another.
struct FastPair: BinaryFastCodable, Hashable {
    var a: String
    var b: UInt16

    func writeBinary(to buffer: inout ByteBuffer) throws {
        buffer.writeFastString(a)
        buffer.writeFastVarint(UInt64(b))
    }

    init(a: String, b: UInt16) { (self.a, self.b) = (a, b) }

    init(readingBinary buffer: inout ByteBuffer) throws {
        a = try buffer.readFastString()
        b = try buffer.readFastVarint(as: UInt16.self)
    }
}

/// Fails to write when asked, after writing some bytes.
struct FastFailing: BinaryFastCodable {
    var fail: Bool
    struct Refused: Error {}

    func writeBinary(to buffer: inout ByteBuffer) throws {
        buffer.writeFastString("partial")
        if fail { throw Refused() }
    }

    init(fail: Bool) { self.fail = fail }
    init(readingBinary buffer: inout ByteBuffer) throws {
        _ = try buffer.readFastString()
        fail = false
    }
}

/// An ordinary Codable struct holding fast values in every position the coder has.
struct FastHolder: Codable, Hashable {
    var point: FastPoint
    var points: [FastPoint]
    var maybe: FastPoint?
    var nested: FastPoint??
    var byName: [String: FastPair]
    var pairs: Set<FastPair>
    var tail: Int
}

extension SeededRandom {
    mutating func fastPoint() -> FastPoint {
        let names = ["", "a", "ünïcödé/тема/😀", String(repeating: "long", count: 40)]
        return FastPoint(
            x: below(4) == 0 ? (below(2) == 0 ? .min : .max) : Int64(bitPattern: next()) >> below(64),
            count: UInt32(truncatingIfNeeded: next() >> below(64)),
            name: names[below(names.count)], data: ByteBuffer(bytes: bytes(below(3) == 0 ? 0 : below(300))),
            label: below(2) == 0 ? nil : names[below(names.count)], flag: below(2) == 0)
    }

    mutating func fastPair() -> FastPair { FastPair(a: "p\(below(50))", b: UInt16(below(65_536))) }

    mutating func fastHolder() -> FastHolder {
        let nested: FastPoint?? = [.none, .some(.none), .some(fastPoint())][below(3)]
        return FastHolder(
            point: fastPoint(), points: (0..<below(5)).map { _ in fastPoint() }, maybe: below(2) == 0 ? nil : fastPoint(),
            nested: nested, byName: Dictionary((0..<below(4)).map { ("k\($0)", fastPair()) }, uniquingKeysWith: { a, _ in a }),
            pairs: Set((0..<below(4)).map { _ in fastPair() }), tail: Int(truncatingIfNeeded: next()))
    }
}

@Suite("BinaryFastCodable")
struct BinaryFastCodableTests {
    @Test func aFastValueIsOneBytesValueHoldingItsFastForm() throws {
        let point = FastPoint(x: -3, count: 200, name: "n", data: ByteBuffer(bytes: [9, 8]), label: nil, flag: true)
        var body = ByteBuffer()
        try point.writeBinary(to: &body)
        #expect(bcBytes(body) == [0x05, 0xC8, 0x01, 0x01, 0x6E, 0x02, 9, 8, 0x00, 0x01])
        #expect(bcBytes(try bcEncode(point)) == [BinaryTag.bytes, UInt8(body.readableBytes)] + bcBytes(body))
        #expect(try bcRoundTrip(point) == point)
    }

    @Test(arguments: [0, 1, 126, 127, 128, 300, 16_383, 16_384, 70_000])
    func bodiesOfAnyLengthGetAMinimalLengthPrefix(dataCount: Int) throws {
        let point = FastPoint(
            x: 0, count: 0, name: "", data: ByteBuffer(repeating: 0xAB, count: dataCount), label: nil, flag: false)
        var body = ByteBuffer()
        try point.writeBinary(to: &body)
        var prefix = ByteBuffer()
        prefix.writeFastVarint(UInt64(body.readableBytes))
        let encoded = try bcEncode(point)
        #expect(bcBytes(encoded) == [BinaryTag.bytes] + bcBytes(prefix) + bcBytes(body))
        #expect(try bcDecode(FastPoint.self, encoded) == point)
        // Also inside a container, where the body is written after other values.
        let holder = FastHolder(
            point: point, points: [point, point], maybe: point, nested: .some(point), byName: [:], pairs: [], tail: 7)
        #expect(try bcRoundTrip(holder) == holder)
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func randomValuesRoundTripEverywhere(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        for _ in 0..<60 {
            let holder = random.fastHolder()
            #expect(try bcRoundTrip(holder) == holder)
            #expect(try bcRoundTrip(holder.points) == holder.points)
            #expect(try bcRoundTrip([holder.points, []]) == [holder.points, []])
            #expect(try bcRoundTrip(holder.maybe) == holder.maybe)
            // The type-free skip agrees with what decoding consumed.
            let encoded = try bcEncode(holder)
            #expect(try BinaryReader(bytes: encoded).valueEnd(at: 0, limit: encoded.readableBytes) == encoded.readableBytes)
        }
    }

    @Test func nestedOptionalsKeepSomeNoneApart() throws {
        let point = SeededRandom(seed: 3).fastPointValue
        for value in [FastPoint??.none, .some(.none), .some(.some(point))] {
            #expect(try bcRoundTrip(value) == value)
        }
    }

    @Test func theCodableFormStillDecodes() throws {
        var random = SeededRandom(seed: 21)
        for _ in 0..<20 {
            let point = random.fastPoint()
            let legacy = LegacyPoint(
                x: point.x, count: point.count, name: point.name, data: point.data, label: point.label, flag: point.flag)
            let encoded = try bcEncode(legacy)
            #expect(encoded.getInteger(at: 0, as: UInt8.self) == BinaryTag.keyed)
            #expect(try bcDecode(FastPoint.self, encoded) == point)
            #expect(try bcDecode([FastPoint].self, try bcEncode([legacy, legacy])) == [point, point])
        }
    }

    @Test func bytesLeftOverAfterTheFastFormThrow() throws {
        var body = ByteBuffer()
        try FastPair(a: "x", b: 1).writeBinary(to: &body)
        body.writeInteger(UInt8(0))
        var encoded = ByteBuffer()
        encoded.writeInteger(BinaryTag.bytes)
        encoded.writeFastBytes(body)
        bcExpectCode(.malformed) { try bcDecode(FastPair.self, encoded) }
    }

    @Test func aFailedWriteLeavesTheBufferAsItWas() throws {
        var buffer = ByteBuffer(bytes: [1, 2, 3])
        #expect(throws: FastFailing.Refused.self) { try BinaryEncoder().encode(FastFailing(fail: true), into: &buffer) }
        #expect(bcBytes(buffer) == [1, 2, 3])
        #expect(throws: FastFailing.Refused.self) {
            try BinaryEncoder().encode([FastFailing(fail: false), FastFailing(fail: true)], into: &buffer)
        }
        #expect(bcBytes(buffer) == [1, 2, 3])
        #expect(throws: FastFailing.Refused.self) {
            try BinaryEncoder().encode(["a": [FastFailing(fail: true)]], into: &buffer)
        }
        #expect(bcBytes(buffer) == [1, 2, 3])
    }

    @Test func aFastReadErrorCarriesTheCodingPath() throws {
        let holder = SeededRandom(seed: 8).fastHolderValue
        var bytes = bcBytes(try bcEncode(holder))
        // Corrupt the `flag` byte of `point`, the last byte of its body: 7 is not a Bool.
        var point = ByteBuffer()
        try holder.point.writeBinary(to: &point)
        let pointBytes = bcBytes(point)
        let at = try #require(bytes.firstRange(of: pointBytes)).upperBound - 1
        bytes[at] = 7
        do {
            _ = try bcDecode(FastHolder.self, bcBuffer(bytes))
            Issue.record("decoded a corrupt Bool")
        } catch let error as BinaryCodingError {
            #expect(error.code == .malformed)
            #expect(error.codingPath == ["point"])
        }
    }

    @Test func oneFastTypeDoesNotSilentlyDecodeAsAnother() throws {
        var random = SeededRandom(seed: 13)
        for _ in 0..<50 {
            let point = random.fastPoint()
            #expect(throws: (any Error).self) { try bcDecode(FastPair.self, try bcEncode(point)) }
            #expect(throws: (any Error).self) { try bcDecode([FastPair].self, try bcEncode([point])) }
        }
        // A value of another kind altogether is a type mismatch, as for any type.
        bcExpectCode(.typeMismatch) { try bcDecode(FastPair.self, try bcEncode("text")) }
    }

    @Test func everyTruncationThrows() throws {
        var random = SeededRandom(seed: 17)
        let points = (0..<6).map { _ in random.fastPoint() }
        var body = ByteBuffer()
        try points.writeBinary(to: &body)
        let bodyBytes = bcBytes(body)
        for length in 0..<bodyBytes.count {
            // Straight into the fast reader, and wrapped as a well-formed bytes value of the shorter length.
            var prefix = bcBuffer(Array(bodyBytes[..<length]))
            #expect(throws: BinaryCodingError.self) { try [FastPoint](readingBinary: &prefix) }
            var wrapped = ByteBuffer()
            wrapped.writeInteger(BinaryTag.bytes)
            wrapped.writeFastBytes(bcBuffer(Array(bodyBytes[..<length])))
            #expect(throws: BinaryCodingError.self) { try bcDecode([FastPoint].self, wrapped) }
        }
    }

    @Test func mutatedInputThrowsOrDecodesToAValueThatRoundTrips() throws {
        var random = SeededRandom(seed: 19)
        var decoded = 0
        for _ in 0..<300 {
            var bytes = bcBytes(try bcEncode(random.fastHolder()))
            for _ in 0..<(1 + random.below(3)) { bytes[random.below(bytes.count)] ^= UInt8(1 + random.below(255)) }
            guard let value = try? bcDecode(FastHolder.self, bcBuffer(bytes)) else { continue }
            decoded += 1
            #expect(try bcRoundTrip(value) == value)
        }
        #expect(decoded > 0, "no mutation decoded: the property checked nothing")
    }
}

extension SeededRandom {
    var fastPointValue: FastPoint {
        var copy = self
        return copy.fastPoint()
    }

    var fastHolderValue: FastHolder {
        var copy = self
        return copy.fastHolder()
    }
}
