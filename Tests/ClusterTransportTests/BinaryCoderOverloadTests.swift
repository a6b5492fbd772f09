import NIOCore
import Testing

@testable import ClusterTransport

/// Reaches every concrete `encode`/`decode` overload of the three container kinds.
@Suite("BinaryCoder container overloads")
struct BinaryCoderOverloadTests {
    /// Synthesized: keyed `encode`/`decode` and `encodeIfPresent`/`decodeIfPresent` for each primitive.
    struct Keyed: Codable, Equatable {
        var b: Bool, s: String, d: Double, f: Float, i: Int, i8: Int8, i16: Int16, i32: Int32, i64: Int64
        var u: UInt, u8: UInt8, u16: UInt16, u32: UInt32, u64: UInt64
        var ob: Bool?, os: String?, od: Double?, of: Float?, oi: Int?, oi8: Int8?, oi16: Int16?, oi32: Int32?
        var oi64: Int64?, ou: UInt?, ou8: UInt8?, ou16: UInt16?, ou32: UInt32?, ou64: UInt64?
    }

    @Test func keyedOverloads() throws {
        let full = Keyed(
            b: true, s: "s", d: -2.5, f: 1.25, i: -1, i8: -8, i16: -16, i32: -32, i64: -64, u: 1, u8: 8, u16: 16,
            u32: 32, u64: 64, ob: false, os: "", od: 0.5, of: -0.5, oi: .max, oi8: .min, oi16: .max, oi32: .min,
            oi64: .max, ou: .max, ou8: .max, ou16: .max, ou32: .max, ou64: .max)
        #expect(try bcRoundTrip(full) == full)
        var empty = full
        (empty.ob, empty.os, empty.od, empty.of, empty.oi, empty.oi8, empty.oi16) = (nil, nil, nil, nil, nil, nil, nil)
        (empty.oi32, empty.oi64, empty.ou, empty.ou8, empty.ou16, empty.ou32, empty.ou64) = (nil, nil, nil, nil, nil, nil, nil)
        #expect(try bcRoundTrip(empty) == empty)
    }

    enum Scalar: Equatable {
        case bool(Bool), string(String), double(Double), float(Float), int(Int), int8(Int8), int16(Int16)
        case int32(Int32), int64(Int64), uint(UInt), uint8(UInt8), uint16(UInt16), uint32(UInt32), uint64(UInt64)
        case none
        case inner(BCInner)
    }

    /// Unkeyed container of (kind, value) pairs where each value sits in a super encoder's single-value container,
    /// followed by an unkeyed `encodeNil` and a nested keyed container.
    struct Scalars: Codable, Equatable {
        var values: [Scalar]
        enum Keys: String, CodingKey { case count }

        init(_ values: [Scalar]) { self.values = values }

        func encode(to encoder: any Encoder) throws {
            var list = encoder.unkeyedContainer()
            for value in values {
                try list.encode(Self.kind(value))
                var single = list.superEncoder().singleValueContainer()
                switch value {
                case .bool(let v): try single.encode(v)
                case .string(let v): try single.encode(v)
                case .double(let v): try single.encode(v)
                case .float(let v): try single.encode(v)
                case .int(let v): try single.encode(v)
                case .int8(let v): try single.encode(v)
                case .int16(let v): try single.encode(v)
                case .int32(let v): try single.encode(v)
                case .int64(let v): try single.encode(v)
                case .uint(let v): try single.encode(v)
                case .uint8(let v): try single.encode(v)
                case .uint16(let v): try single.encode(v)
                case .uint32(let v): try single.encode(v)
                case .uint64(let v): try single.encode(v)
                case .none: try single.encodeNil()
                case .inner(let v): try single.encode(v)
                }
            }
            try list.encodeNil()
            var trailer = list.nestedContainer(keyedBy: Keys.self)
            try trailer.encode(values.count, forKey: .count)
        }

        init(from decoder: any Decoder) throws {
            var list = try decoder.unkeyedContainer()
            var values: [Scalar] = []
            while try !list.decodeNil() {
                let kind = try list.decode(UInt8.self)
                let single = try list.superDecoder().singleValueContainer()
                let value: Scalar =
                    switch kind {
                    case 0: .bool(try single.decode(Bool.self))
                    case 1: .string(try single.decode(String.self))
                    case 2: .double(try single.decode(Double.self))
                    case 3: .float(try single.decode(Float.self))
                    case 4: .int(try single.decode(Int.self))
                    case 5: .int8(try single.decode(Int8.self))
                    case 6: .int16(try single.decode(Int16.self))
                    case 7: .int32(try single.decode(Int32.self))
                    case 8: .int64(try single.decode(Int64.self))
                    case 9: .uint(try single.decode(UInt.self))
                    case 10: .uint8(try single.decode(UInt8.self))
                    case 11: .uint16(try single.decode(UInt16.self))
                    case 12: .uint32(try single.decode(UInt32.self))
                    case 13: .uint64(try single.decode(UInt64.self))
                    case 14: single.decodeNil() ? .none : .bool(false)
                    default: .inner(try single.decode(BCInner.self))
                    }
                values.append(value)
            }
            let trailer = try list.nestedContainer(keyedBy: Keys.self)
            #expect(try trailer.decode(Int.self, forKey: .count) == values.count)
            #expect(list.isAtEnd)
            self.values = values
        }

        static func kind(_ value: Scalar) -> UInt8 {
            switch value {
            case .bool: 0
            case .string: 1
            case .double: 2
            case .float: 3
            case .int: 4
            case .int8: 5
            case .int16: 6
            case .int32: 7
            case .int64: 8
            case .uint: 9
            case .uint8: 10
            case .uint16: 11
            case .uint32: 12
            case .uint64: 13
            case .none: 14
            case .inner: 15
            }
        }
    }

    @Test func singleValueAndUnkeyedOverloads() throws {
        let values: [Scalar] = [
            .bool(true), .string("ü"), .double(-1e-300), .float(7), .int(.min), .int8(.min), .int16(.min),
            .int32(.min), .int64(.min), .uint(.max), .uint8(.max), .uint16(.max), .uint32(.max), .uint64(.max),
            .none, .inner(BCInner(name: "n", value: 1, flag: nil)),
        ]
        #expect(try bcRoundTrip(Scalars(values)) == Scalars(values))
        #expect(try bcRoundTrip(Scalars([])) == Scalars([]))
    }

    /// Unkeyed containers holding primitives through the concrete overloads directly.
    struct Row: Codable, Equatable {
        var b: Bool, s: String, d: Double, f: Float, i: Int, i8: Int8, i16: Int16, i32: Int32, i64: Int64
        var u: UInt, u8: UInt8, u16: UInt16, u32: UInt32, u64: UInt64

        func encode(to encoder: any Encoder) throws {
            var c = encoder.unkeyedContainer()
            try c.encode(b); try c.encode(s); try c.encode(d); try c.encode(f); try c.encode(i); try c.encode(i8)
            try c.encode(i16); try c.encode(i32); try c.encode(i64); try c.encode(u); try c.encode(u8)
            try c.encode(u16); try c.encode(u32); try c.encode(u64)
        }

        init(from decoder: any Decoder) throws {
            var c = try decoder.unkeyedContainer()
            #expect(c.count == 14)
            b = try c.decode(Bool.self); s = try c.decode(String.self); d = try c.decode(Double.self)
            f = try c.decode(Float.self); i = try c.decode(Int.self); i8 = try c.decode(Int8.self)
            i16 = try c.decode(Int16.self); i32 = try c.decode(Int32.self); i64 = try c.decode(Int64.self)
            u = try c.decode(UInt.self); u8 = try c.decode(UInt8.self); u16 = try c.decode(UInt16.self)
            u32 = try c.decode(UInt32.self); u64 = try c.decode(UInt64.self)
            #expect(c.isAtEnd && c.currentIndex == 14)
        }

        init(seed: UInt64) {
            var r = SeededRandom(seed: seed)
            (b, s, d, f, i, i8, i16) = (r.bool(), r.string(), r.double(), r.float(), r.int(), r.int(), r.int())
            (i32, i64, u, u8, u16, u32, u64) = (r.int(), r.int(), r.int(), r.int(), r.int(), r.int(), r.int())
        }
    }

    @Test func unkeyedOverloads() throws {
        let rows = (0..<50).map { Row(seed: $0) }
        #expect(try bcRoundTrip(rows) == rows)
    }

    @Test func unkeyedElementsOfTheWrongTypeDoNotAdvance() throws {
        struct Probe: Decodable {
            init(from decoder: any Decoder) throws {
                var c = try decoder.unkeyedContainer()
                #expect(throws: BinaryCodingError.self) { try c.decode(String.self) }
                #expect(c.currentIndex == 0)
                #expect(try c.decode(Int.self) == 5)
                #expect(try !c.decodeNil())
                #expect(try c.decode(String.self) == "x")
                #expect(throws: BinaryCodingError.self) { try c.nestedUnkeyedContainer() }
                #expect(throws: BinaryCodingError.self) { try c.superDecoder() }
            }
        }
        var buffer = ByteBuffer()
        struct Pair: Encodable {
            func encode(to encoder: any Encoder) throws {
                var c = encoder.unkeyedContainer()
                try c.encode(5)
                try c.encode("x")
            }
        }
        try BinaryEncoder().encode(Pair(), into: &buffer)
        _ = try BinaryDecoder().decode(Probe.self, from: &buffer)
    }
}
