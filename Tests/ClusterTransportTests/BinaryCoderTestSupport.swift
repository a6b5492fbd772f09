import NIOCore
import Testing

@testable import ClusterTransport

func bcEncode<T: Encodable>(_ value: T) throws -> ByteBuffer {
    var buffer = ByteBuffer()
    try BinaryEncoder().encode(value, into: &buffer)
    return buffer
}

func bcDecode<T: Decodable>(_ type: T.Type, _ buffer: ByteBuffer, maxDepth: Int = 64) throws -> T {
    var buffer = buffer
    var decoder = BinaryDecoder()
    decoder.maxDepth = maxDepth
    let value = try decoder.decode(type, from: &buffer)
    #expect(buffer.readableBytes == 0, "decoding left \(buffer.readableBytes) bytes")
    return value
}

func bcRoundTrip<T: Codable>(_ value: T) throws -> T {
    try bcDecode(T.self, try bcEncode(value))
}

func bcBytes(_ buffer: ByteBuffer) -> [UInt8] { Array(buffer.readableBytesView) }

func bcBuffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

/// Expects `body` to throw a `BinaryCodingError` with `code`.
func bcExpectCode<R>(
    _ code: BinaryCodingError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> R
) {
    do {
        let result = try body()
        Issue.record("expected \(code), got \(result)", sourceLocation: sourceLocation)
    } catch let error as BinaryCodingError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected BinaryCodingError.\(code), got \(error)", sourceLocation: sourceLocation)
    }
}

// MARK: A rich nested type for property tests

struct BCInner: Codable, Hashable {
    var name: String
    var value: Int64
    var flag: Bool?
}

struct BCPairKey: Codable, Hashable {
    var a: Int8
    var b: String
}

enum BCShape: Codable, Hashable {
    case empty
    case circle(radius: Double)
    case rect(Int, UInt16)
    case labeled(String, inner: BCInner?)
}

indirect enum BCTree: Codable, Hashable {
    case leaf(Int)
    case node([BCTree], label: String?)
}

struct BCSample: Codable, Equatable {
    var int: Int
    var i8: Int8
    var i16: Int16
    var i32: Int32
    var i64: Int64
    var uint: UInt
    var u8: UInt8
    var u16: UInt16
    var u32: UInt32
    var u64: UInt64
    var bool: Bool
    var float: Float
    var double: Double
    var string: String
    var optionalInt: Int?
    var nestedOptional: Int??
    var optionalList: [String?]
    var nestedOptionalList: [Bool??]
    var bytes: [UInt8]
    var buffer: ByteBuffer
    var list: [BCInner]
    var set: Set<String>
    var byName: [String: BCInner]
    var byNumber: [Int: String]
    var byPair: [BCPairKey: Int]
    var matrix: [[Double]]
    var shape: BCShape
    var shapes: [BCShape]
    var tree: BCTree
}

extension SeededRandom {
    mutating func int<I: FixedWidthInteger>(_ type: I.Type = I.self) -> I {
        // Bias towards edge values and small numbers, which exercise varint boundaries.
        switch next() % 6 {
        case 0: return [I.min, I.max, 0, I(truncatingIfNeeded: -1), 1][Int(next() % 5)]
        case 1: return I(truncatingIfNeeded: Int64(bitPattern: next()) >> Int(next() % 64))
        case 2: return I(truncatingIfNeeded: next() % 300)
        default: return I(truncatingIfNeeded: next())
        }
    }

    mutating func bool() -> Bool { next() & 1 == 1 }

    mutating func chance(_ percent: UInt64) -> Bool { next() % 100 < percent }

    mutating func count(_ max: Int) -> Int { Int(next() % UInt64(max + 1)) }

    mutating func string() -> String {
        let pieces = ["a", "Z", "0", " ", "é", "日本", "🎉", "👨‍👩‍👧", "\u{0}", "key", "\n", "ß"]
        return (0..<count(8)).map { _ in pieces[Int(next() % UInt64(pieces.count))] }.joined()
    }

    mutating func double() -> Double {
        let value = Double(bitPattern: next())
        return value.isNaN ? -0.0 : value
    }

    mutating func float() -> Float {
        let value = Float(bitPattern: UInt32(truncatingIfNeeded: next()))
        return value.isNaN ? .infinity : value
    }

    mutating func inner() -> BCInner {
        BCInner(name: string(), value: int(), flag: chance(30) ? nil : bool())
    }

    mutating func shape() -> BCShape {
        switch next() % 4 {
        case 0: .empty
        case 1: .circle(radius: double())
        case 2: .rect(int(), int())
        default: .labeled(string(), inner: chance(50) ? nil : inner())
        }
    }

    mutating func tree(depth: Int) -> BCTree {
        if depth == 0 || chance(40) { return .leaf(int()) }
        return .node((0..<count(3)).map { _ in tree(depth: depth - 1) }, label: chance(50) ? nil : string())
    }

    mutating func nestedOptional<T>(_ make: (inout SeededRandom) -> T) -> T?? {
        switch next() % 3 {
        case 0: .none
        case 1: .some(.none)
        default: .some(.some(make(&self)))
        }
    }

    mutating func sample() -> BCSample {
        BCSample(
            int: int(), i8: int(), i16: int(), i32: int(), i64: int(),
            uint: int(), u8: int(), u16: int(), u32: int(), u64: int(),
            bool: bool(), float: float(), double: double(), string: string(),
            optionalInt: chance(50) ? nil : int(),
            nestedOptional: nestedOptional { $0.int() },
            optionalList: (0..<count(4)).map { _ in chance(30) ? nil : string() },
            nestedOptionalList: (0..<count(4)).map { _ in nestedOptional { $0.bool() } },
            bytes: (0..<count(chance(10) ? 300 : 20)).map { _ in int() },
            buffer: ByteBuffer(bytes: (0..<count(10)).map { _ in int(UInt8.self) }),
            list: (0..<count(4)).map { _ in inner() },
            set: Set((0..<count(4)).map { _ in string() }),
            byName: Dictionary((0..<count(chance(10) ? 40 : 4)).map { _ in (string(), inner()) }, uniquingKeysWith: { a, _ in a }),
            byNumber: Dictionary((0..<count(4)).map { _ in (int(Int.self), string()) }, uniquingKeysWith: { a, _ in a }),
            byPair: Dictionary((0..<count(3)).map { _ in (BCPairKey(a: int(), b: string()), int(Int.self)) },
                               uniquingKeysWith: { a, _ in a }),
            matrix: (0..<count(3)).map { _ in (0..<count(3)).map { _ in double() } },
            shape: shape(),
            shapes: (0..<count(3)).map { _ in shape() },
            tree: tree(depth: 4)
        )
    }
}
