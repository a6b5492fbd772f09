import NIOCore
import Testing

@testable import ClusterTransport

@Suite("BinaryCoder containers")
struct BinaryCoderContainerTests {
    struct Small: Codable, Equatable {
        var a: Int = 1
        var b: String = "x"
    }

    @Test func smallStructIsCompact() throws {
        let encoded = try bcEncode(Small())
        // 0A 09 | 01 'a' 04 02 | 01 'b' 07 01 'x'
        #expect(bcBytes(encoded) == [0x0A, 0x09, 0x01, 0x61, 0x04, 0x02, 0x01, 0x62, 0x07, 0x01, 0x78])
        #expect(encoded.readableBytes < 20)
        #expect(try bcRoundTrip(Small(a: -7, b: "")) == Small(a: -7, b: ""))
    }

    struct WithOptionals: Codable, Equatable {
        var plain: Int?
        var nested: String??
        var triple: Int???
        var list: [Int??]
        var dictionary: [String: Bool?]
    }

    @Test(arguments: [
        WithOptionals(plain: nil, nested: nil, triple: nil, list: [], dictionary: [:]),
        WithOptionals(plain: 0, nested: .some(nil), triple: .some(.some(nil)), list: [nil, .some(nil), 3], dictionary: ["a": nil, "b": true]),
        WithOptionals(plain: 5, nested: "s", triple: .some(nil), list: [.some(.some(-1))], dictionary: ["": false]),
        WithOptionals(plain: nil, nested: .some(""), triple: 7, list: [.some(nil), .some(nil)], dictionary: [:]),
    ])
    func optionalsKeepTheirShape(_ value: WithOptionals) throws {
        #expect(try bcRoundTrip(value) == value)
    }

    @Test func topLevelNestedOptionals() throws {
        #expect(try bcRoundTrip(Int??.some(nil)) == .some(nil))
        #expect(try bcRoundTrip(Int??.none) == .none)
        #expect(try bcRoundTrip(Int??.some(4)) == .some(4))
        #expect(try bcRoundTrip(String???.some(.some(nil))) == .some(.some(nil)))
        #expect(try bcRoundTrip([Int?]([1, nil, 3])) == [1, nil, 3])
        #expect(try bcEncode(Int??.some(nil)).readableBytes == 2)
        #expect(try bcEncode(Int?.some(1)).readableBytes == 2)
    }

    struct Version1: Codable, Equatable {
        var id: Int
        var name: String
    }

    struct Version2: Codable, Equatable {
        var id: Int
        var name: String
        var email: String?
        var tags: [String]?
    }

    @Test func missingAndUnknownKeys() throws {
        let old = Version1(id: 3, name: "n")
        #expect(try bcDecode(Version2.self, bcEncode(old)) == Version2(id: 3, name: "n", email: nil, tags: nil))
        let new = Version2(id: 4, name: "m", email: "e@x", tags: ["t"])
        #expect(try bcDecode(Version1.self, bcEncode(new)) == Version1(id: 4, name: "m"))
        // A nil written explicitly reads as absent.
        let explicitNil = Reordered(first: 1, second: "", third: [], fourth: nil)
        struct Reader: Decodable { var fourth: Bool? }
        #expect(try bcDecode(Reader.self, bcEncode(explicitNil)).fourth == nil)
    }

    /// Writes keys in one order and reads them in another, probing `contains`, `allKeys` and `decodeNil`.
    struct Reordered: Codable, Equatable {
        var first: Int
        var second: String
        var third: [Double]
        var fourth: Bool?

        enum CodingKeys: String, CodingKey { case first, second, third, fourth, absent }

        init(first: Int, second: String, third: [Double], fourth: Bool?) {
            (self.first, self.second, self.third, self.fourth) = (first, second, third, fourth)
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(first, forKey: .first)
            try container.encode(second, forKey: .second)
            try container.encode(third, forKey: .third)
            if let fourth { try container.encode(fourth, forKey: .fourth) } else { try container.encodeNil(forKey: .fourth) }
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            #expect(Set(container.allKeys.map(\.stringValue)) == ["first", "second", "third", "fourth"])
            #expect(!container.contains(.absent))
            #expect(try container.decodeIfPresent(Int.self, forKey: .absent) == nil)
            #expect(throws: BinaryCodingError.self) { try container.decodeNil(forKey: .absent) }
            fourth = try container.decodeNil(forKey: .fourth) ? nil : try container.decode(Bool.self, forKey: .fourth)
            third = try container.decode([Double].self, forKey: .third)
            first = try container.decode(Int.self, forKey: .first)
            second = try container.decode(String.self, forKey: .second)
            #expect(try container.decode(Int.self, forKey: .first) == first)  // reading twice is fine
        }
    }

    @Test(arguments: [
        Reordered(first: 1, second: "2", third: [3], fourth: nil),
        Reordered(first: -9, second: "", third: [], fourth: true),
    ])
    func keysDecodeInAnyOrder(_ value: Reordered) throws {
        #expect(try bcRoundTrip(value) == value)
    }

    /// Forty keys read in a scrambled order: exercises the dictionary index for large keyed containers.
    struct ManyKeys: Codable, Equatable {
        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        var values: [Int]

        init(values: [Int]) { self.values = values }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            for (index, value) in values.enumerated() { try container.encode(value, forKey: Key(stringValue: "k\(index)")) }
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            var values = [Int](repeating: 0, count: 40)
            for index in (0..<40).map({ ($0 * 17) % 40 }) {
                values[index] = try container.decode(Int.self, forKey: Key(stringValue: "k\(index)"))
            }
            #expect(!container.contains(Key(stringValue: "k40")))
            self.values = values
        }
    }

    @Test func largeKeyedContainersReadOutOfOrder() throws {
        let value = ManyKeys(values: (0..<40).map { $0 * 1000 - 7 })
        #expect(try bcRoundTrip(value) == value)
        let dictionary = Dictionary(uniqueKeysWithValues: (0..<500).map { ("key\($0)", $0) })
        #expect(try bcRoundTrip(dictionary) == dictionary)
        let numbers = Dictionary(uniqueKeysWithValues: (0..<50).map { ($0 * 7 - 100, "\($0)") })
        #expect(try bcRoundTrip(numbers) == numbers)
    }

    @Test func bigContainersGetMultiByteLengths() throws {
        let strings = (0..<2000).map { "value number \($0)" }
        #expect(try bcRoundTrip(strings) == strings)
        let nested = [[String]](repeating: strings, count: 3)
        #expect(try bcRoundTrip(nested) == nested)
        let people = (0..<300).map { Version2(id: $0, name: String(repeating: "n", count: $0), email: nil, tags: ["a"]) }
        #expect(try bcRoundTrip(people) == people)
    }

    @Test func collections() throws {
        #expect(try bcRoundTrip(Set([1, 5, 9])) == Set([1, 5, 9]))
        #expect(try bcRoundTrip([String: [Int]]()) == [:])
        let byBool: [Bool: String] = [true: "t", false: "f"]
        #expect(try bcRoundTrip(byBool) == byBool)
        #expect(try bcRoundTrip([[UInt8]]([[1], [], [2, 3]])) == [[1], [], [2, 3]])
        #expect(try bcRoundTrip([Int]()) == [])
        #expect(try bcRoundTrip(ContiguousArray([1.5])) == [1.5])
    }

    @Test func enumsWithAssociatedValues() throws {
        let shapes: [BCShape] = [.empty, .circle(radius: 2), .rect(-1, 65535), .labeled("l", inner: nil),
                               .labeled("", inner: BCInner(name: "i", value: .min, flag: false))]
        #expect(try bcRoundTrip(shapes) == shapes)
        #expect(try bcRoundTrip(MemberStatus.leaving) == .leaving)
        #expect(throws: DecodingError.self) { try bcDecode(MemberStatus.self, bcEncode(UInt8(99))) }
    }

    class Base: Codable {
        var id: Int
        init(id: Int) { self.id = id }
    }

    /// Uses `superEncoder()`/`superDecoder()` for its superclass.
    final class Derived: Base {
        var name: String
        enum CodingKeys: String, CodingKey { case name }

        init(id: Int, name: String) {
            self.name = name
            super.init(id: id)
        }

        override func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try super.encode(to: container.superEncoder())
        }

        required init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            try super.init(from: container.superDecoder())
        }
    }

    /// Shares its encoder with its superclass: both ask for a keyed container of the same value.
    final class Merged: Base {
        var extra: Bool
        enum CodingKeys: String, CodingKey { case extra }

        init(id: Int, extra: Bool) {
            self.extra = extra
            super.init(id: id)
        }

        override func encode(to encoder: any Encoder) throws {
            try super.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(extra, forKey: .extra)
        }

        required init(from decoder: any Decoder) throws {
            extra = try decoder.container(keyedBy: CodingKeys.self).decode(Bool.self, forKey: .extra)
            try super.init(from: decoder)
        }
    }

    @Test func classHierarchies() throws {
        let derived = try bcRoundTrip(Derived(id: 7, name: "d"))
        #expect(derived.id == 7 && derived.name == "d")
        let merged = try bcRoundTrip(Merged(id: -2, extra: true))
        #expect(merged.id == -2 && merged.extra)
        let list = try bcRoundTrip([Derived(id: 1, name: "a"), Derived(id: 2, name: "b")])
        #expect(list.map(\.id) == [1, 2] && list.map(\.name) == ["a", "b"])
    }

    /// Hand-written coding through nested keyed and unkeyed containers and an unused super encoder.
    struct Nested: Codable, Equatable {
        var point: (x: Int, y: Int)
        var tags: [String]
        var grid: [[Int]]

        static func == (lhs: Nested, rhs: Nested) -> Bool {
            lhs.point == rhs.point && lhs.tags == rhs.tags && lhs.grid == rhs.grid
        }

        enum Keys: String, CodingKey { case point, tags, grid, unused }
        enum PointKeys: String, CodingKey { case x, y }

        init(point: (x: Int, y: Int), tags: [String], grid: [[Int]]) {
            (self.point, self.tags, self.grid) = (point, tags, grid)
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            var point = container.nestedContainer(keyedBy: PointKeys.self, forKey: .point)
            try point.encode(self.point.y, forKey: .y)
            try point.encode(self.point.x, forKey: .x)
            _ = container.superEncoder(forKey: .unused)  // writes nothing: becomes an empty container
            var tags = container.nestedUnkeyedContainer(forKey: .tags)
            for tag in self.tags { try tags.encode(tag) }
            #expect(tags.count == self.tags.count)
            var grid = container.nestedUnkeyedContainer(forKey: .grid)
            for row in self.grid {
                var nested = grid.nestedUnkeyedContainer()
                for cell in row { try nested.encode(cell) }
            }
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Keys.self)
            let point = try container.nestedContainer(keyedBy: PointKeys.self, forKey: .point)
            self.point = (try point.decode(Int.self, forKey: .x), try point.decode(Int.self, forKey: .y))
            var tags = try container.nestedUnkeyedContainer(forKey: .tags)
            let declared = tags.count
            var collected: [String] = []
            while !tags.isAtEnd { collected.append(try tags.decode(String.self)) }
            #expect(declared == collected.count && tags.currentIndex == collected.count)
            #expect(throws: BinaryCodingError.self) { try tags.decode(String.self) }
            self.tags = collected
            var grid = try container.nestedUnkeyedContainer(forKey: .grid)
            var rows: [[Int]] = []
            while !grid.isAtEnd {
                var row = try grid.nestedUnkeyedContainer()
                var cells: [Int] = []
                while !row.isAtEnd { cells.append(try row.decode(Int.self)) }
                rows.append(cells)
            }
            self.grid = rows
            let unused = try container.superDecoder(forKey: .unused)
            #expect(try unused.container(keyedBy: Keys.self).allKeys.isEmpty)
        }
    }

    @Test func nestedContainersAndSuperEncoders() throws {
        let value = Nested(point: (3, -4), tags: ["a", "b", "c"], grid: [[1, 2], [], [3]])
        #expect(try bcRoundTrip(value) == value)
    }

    /// A value whose `encode(to:)` writes nothing still takes up its slot.
    struct Silent: Codable, Equatable {
        init() {}
        init(from decoder: any Decoder) throws {}
        func encode(to encoder: any Encoder) throws {}
    }

    struct Empty: Codable, Equatable {}

    @Test func valuesThatEncodeNothing() throws {
        #expect(try bcRoundTrip([Silent(), Silent()]) == [Silent(), Silent()])
        #expect(try bcRoundTrip(Silent()) == Silent())
        #expect(try bcRoundTrip([Empty()]) == [Empty()])
        struct Holder: Codable, Equatable { var silent: Silent; var after: Int }
        #expect(try bcRoundTrip(Holder(silent: Silent(), after: 9)) == Holder(silent: Silent(), after: 9))
    }

    struct UserInfoProbe: Codable {
        static let key = CodingUserInfoKey(rawValue: "probe")!
        var seen: String

        init(seen: String) { self.seen = seen }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(encoder.userInfo[Self.key] as? String ?? "none")
        }
        init(from decoder: any Decoder) throws {
            seen = try decoder.singleValueContainer().decode(String.self) + "/" + (decoder.userInfo[Self.key] as? String ?? "none")
        }
    }

    @Test func userInfoReachesValues() throws {
        var encoder = BinaryEncoder()
        encoder.userInfo[UserInfoProbe.key] = "enc"
        var buffer = ByteBuffer()
        try encoder.encode([UserInfoProbe(seen: "")], into: &buffer)
        var decoder = BinaryDecoder()
        decoder.userInfo[UserInfoProbe.key] = "dec"
        #expect(try decoder.decode([UserInfoProbe].self, from: &buffer).map(\.seen) == ["enc/dec"])
    }

    struct TwoSingleValues: Encodable {
        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(1)
            try container.encode(2)
        }
    }

    struct LateWrite: Encodable {
        enum Keys: String, CodingKey { case a, b }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            var early = container.nestedUnkeyedContainer(forKey: .a)
            try container.encode(1, forKey: .b)
            try early.encode(2)  // its parent has moved on
        }
    }

    struct KeyedThenSingle: Encodable {
        enum Keys: String, CodingKey { case a }
        func encode(to encoder: any Encoder) throws {
            var keyed = encoder.container(keyedBy: Keys.self)
            try keyed.encode(1, forKey: .a)
            var single = encoder.singleValueContainer()
            try single.encode(2)
        }
    }

    struct SingleThenKeyed: Encodable {
        enum Keys: String, CodingKey { case a }
        func encode(to encoder: any Encoder) throws {
            var single = encoder.singleValueContainer()
            try single.encode(2)
            _ = encoder.container(keyedBy: Keys.self)
        }
    }

    @Test func encoderMisuseThrowsAndLeavesTheBufferAlone() throws {
        var buffer = ByteBuffer(bytes: [1, 2, 3])
        for value in [TwoSingleValues() as any Encodable, LateWrite(), KeyedThenSingle(), SingleThenKeyed(),
                      [LateWrite()], ["k": KeyedThenSingle()]] {
            do {
                try BinaryEncoder().encode(value, into: &buffer)
                Issue.record("expected \(type(of: value)) to fail")
            } catch let error as BinaryCodingError {
                #expect(error.code == .invalidEncoderUse)
            }
            #expect(bcBytes(buffer) == [1, 2, 3])
        }
    }
}
