import NIOCore
import Testing

@testable import ClusterTransport

@Suite("BinaryCoder primitives")
struct BinaryCoderPrimitiveTests {
    @Test(arguments: [0, 1, -1, 63, -64, 64, -65, 127, 128, 8191, -8192, Int.max, Int.min, Int.max - 1, Int.min + 1])
    func int(_ value: Int) throws {
        #expect(try bcRoundTrip(value) == value)
        #expect(try bcRoundTrip(Int64(value)) == Int64(value))
    }

    @Test(arguments: [Int8.min, -1, 0, 1, Int8.max])
    func int8(_ value: Int8) throws { #expect(try bcRoundTrip(value) == value) }

    @Test(arguments: [Int16.min, -129, 0, 300, Int16.max])
    func int16(_ value: Int16) throws { #expect(try bcRoundTrip(value) == value) }

    @Test(arguments: [Int32.min, -70000, 0, 70000, Int32.max])
    func int32(_ value: Int32) throws { #expect(try bcRoundTrip(value) == value) }

    @Test(arguments: [UInt64.min, 1, 127, 128, 16383, 16384, UInt64(UInt32.max), UInt64.max - 1, UInt64.max])
    func unsigned(_ value: UInt64) throws {
        #expect(try bcRoundTrip(value) == value)
        #expect(try bcRoundTrip(UInt(value)) == UInt(value))
        if let narrow = UInt32(exactly: value) { #expect(try bcRoundTrip(narrow) == narrow) }
        if let narrow = UInt16(exactly: value) { #expect(try bcRoundTrip(narrow) == narrow) }
        if let narrow = UInt8(exactly: value) { #expect(try bcRoundTrip(narrow) == narrow) }
    }

    @Test func bools() throws {
        #expect(try bcRoundTrip(true) == true)
        #expect(try bcRoundTrip(false) == false)
        #expect(bcBytes(try bcEncode(true)) == [0x02])
        #expect(bcBytes(try bcEncode(false)) == [0x01])
    }

    @Test(arguments: [
        0.0, -0.0, 1.5, -1e300, .pi, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude,
        .ulpOfOne, -.leastNormalMagnitude,
    ])
    func double(_ value: Double) throws {
        #expect(try bcRoundTrip(value).bitPattern == value.bitPattern)
        #expect(try bcEncode(value).readableBytes == 9)
    }

    @Test(arguments: [Float(0), -0.0, 3.25, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude])
    func float(_ value: Float) throws {
        #expect(try bcRoundTrip(value).bitPattern == value.bitPattern)
        #expect(try bcEncode(value).readableBytes == 5)
    }

    @Test func nanKeepsItsBits() throws {
        let quiet = Double.nan
        let signaling = Double(bitPattern: 0x7FF0_0000_0000_0001)
        let negative = -Double.nan
        for value in [quiet, signaling, negative] {
            let back = try bcRoundTrip(value)
            #expect(back.isNaN)
            #expect(back.bitPattern == value.bitPattern)
        }
        #expect(try bcRoundTrip(Float.nan).isNaN)
        // A Float field written as Double still decodes; a NaN stays NaN.
        #expect(try bcDecode(Float.self, bcEncode(Double.nan)).isNaN)
        #expect(try bcDecode(Float.self, bcEncode(Double(0.5))) == 0.5)
        #expect(try bcDecode(Double.self, bcEncode(Float(0.25))) == 0.25)
        bcExpectCode(.valueOutOfRange) { try bcDecode(Float.self, bcEncode(Double.pi)) }
    }

    @Test(arguments: ["", "x", "héllo", "日本語", "🎉", "👨‍👩‍👧‍👦 family", "\u{0}nul", String(repeating: "long ", count: 5000)])
    func string(_ value: String) throws {
        #expect(try bcRoundTrip(value) == value)
        #expect(try bcEncode(value).readableBytes == 1 + binaryVarintSize(UInt64(value.utf8.count)) + value.utf8.count)
    }

    @Test func exactBytes() throws {
        #expect(bcBytes(try bcEncode(0)) == [0x04, 0x00])
        #expect(bcBytes(try bcEncode(1)) == [0x04, 0x02])
        #expect(bcBytes(try bcEncode(-1)) == [0x04, 0x01])
        #expect(bcBytes(try bcEncode(64)) == [0x04, 0x80, 0x01])
        #expect(bcBytes(try bcEncode(UInt8(200))) == [0x03, 0xC8, 0x01])
        #expect(bcBytes(try bcEncode(UInt64.max)) == [0x03] + Array(repeating: 0xFF, count: 9) + [0x01])
        #expect(bcBytes(try bcEncode(Int.min)) == [0x04] + Array(repeating: 0xFF, count: 9) + [0x01])
        #expect(bcBytes(try bcEncode("hi")) == [0x07, 0x02, 0x68, 0x69])
        #expect(bcBytes(try bcEncode(Optional<Int>.none)) == [0x00])
        #expect(bcBytes(try bcEncode([UInt8]([1, 2, 3]))) == [0x08, 0x03, 1, 2, 3])
        #expect(bcBytes(try bcEncode([1, 2])) == [0x09, 0x04, 0x04, 0x02, 0x04, 0x04])
    }

    @Test func integersDecodeAcrossWidthsWhenTheyFit() throws {
        #expect(try bcDecode(UInt64.self, bcEncode(Int8(5))) == 5)
        #expect(try bcDecode(Int8.self, bcEncode(UInt64(127))) == 127)
        #expect(try bcDecode(Int16.self, bcEncode(-300)) == -300)
        bcExpectCode(.valueOutOfRange) { try bcDecode(Int8.self, bcEncode(UInt64.max)) }
        bcExpectCode(.valueOutOfRange) { try bcDecode(Int8.self, bcEncode(128)) }
        bcExpectCode(.valueOutOfRange) { try bcDecode(UInt8.self, bcEncode(300)) }
        bcExpectCode(.valueOutOfRange) { try bcDecode(UInt.self, bcEncode(-1)) }
        bcExpectCode(.valueOutOfRange) { try bcDecode(Int.self, bcEncode(UInt64.max)) }
        bcExpectCode(.valueOutOfRange) { try bcDecode(Int32.self, bcEncode(Int64.min)) }
    }

    @Test func byteArraysAndBuffersAreBlobs() throws {
        let blob: [UInt8] = Array(0...255)
        #expect(try bcRoundTrip(blob) == blob)
        #expect(try bcEncode(blob).readableBytes == 1 + 2 + 256)
        #expect(try bcRoundTrip([UInt8]()) == [])
        var buffer = ByteBuffer(bytes: [9, 8, 7])
        buffer.moveReaderIndex(forwardBy: 1)
        #expect(try bcRoundTrip(buffer) == ByteBuffer(bytes: [8, 7]))
        // A ByteBuffer and a [UInt8] share the encoding.
        #expect(try bcDecode([UInt8].self, bcEncode(buffer)) == [8, 7])
        // Older encodings still decode: [UInt8] from an array of numbers, ByteBuffer from its base64 string.
        #expect(try bcDecode([UInt8].self, bcEncode([Int]([1, 2, 255]))) == [1, 2, 255])
        #expect(try bcDecode(ByteBuffer.self, bcEncode("AQI=")) == ByteBuffer(bytes: [1, 2]))
    }
}

@Suite("BinaryCoder errors on bad input")
struct BinaryCoderErrorTests {
    struct Person: Codable, Equatable {
        var name: String
        var age: Int
    }

    struct Team: Codable, Equatable {
        var members: [Person]
    }

    @Test func typeMismatches() throws {
        bcExpectCode(.typeMismatch) { try bcDecode(Int.self, bcEncode("x")) }
        bcExpectCode(.typeMismatch) { try bcDecode(String.self, bcEncode(1)) }
        bcExpectCode(.typeMismatch) { try bcDecode(Bool.self, bcEncode(1)) }
        bcExpectCode(.typeMismatch) { try bcDecode(Double.self, bcEncode(1)) }
        bcExpectCode(.typeMismatch) { try bcDecode([Int].self, bcEncode(Person(name: "a", age: 1))) }
        bcExpectCode(.typeMismatch) { try bcDecode(Person.self, bcEncode([1, 2])) }
        bcExpectCode(.typeMismatch) { try bcDecode(Person.self, bcEncode(5)) }
        bcExpectCode(.valueNotFound) { try bcDecode(Int.self, bcEncode(Int?.none)) }
        bcExpectCode(.valueNotFound) { try bcDecode(Person.self, bcEncode(Person?.none)) }
    }

    @Test func errorsCarryTheCodingPath() throws {
        struct LooseTeam: Codable { var members: [LoosePerson] }
        struct LoosePerson: Codable { var name: String; var age: String }
        let team = LooseTeam(members: [.init(name: "a", age: "1"), .init(name: "b", age: "old")])
        do {
            _ = try bcDecode(Team.self, bcEncode(team))
            Issue.record("expected a type mismatch")
        } catch let error as BinaryCodingError {
            #expect(error.code == .typeMismatch)
            #expect(error.codingPath == ["members", "Index 0", "age"])
            #expect(error.description.contains("members.Index 0.age"))
        }
    }

    @Test func missingKeys() throws {
        struct OnlyName: Codable { var name: String }
        do {
            _ = try bcDecode(Person.self, bcEncode(OnlyName(name: "n")))
            Issue.record("expected keyNotFound")
        } catch let error as BinaryCodingError {
            #expect(error.code == .keyNotFound)
            #expect(error.message.contains("age"))
        }
    }

    @Test func hostileLengthsThrowWithoutAllocating() throws {
        // A string, a blob and a container claiming 2^62 bytes.
        let huge: [UInt8] = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40]
        bcExpectCode(.truncated) { try bcDecode(String.self, bcBuffer([0x07] + huge + [0x61])) }
        bcExpectCode(.truncated) { try bcDecode([UInt8].self, bcBuffer([0x08] + huge)) }
        bcExpectCode(.truncated) { try bcDecode([Int].self, bcBuffer([0x09] + huge + [0x04, 0x02])) }
        bcExpectCode(.truncated) { try bcDecode(Person.self, bcBuffer([0x0A] + huge)) }
    }

    @Test func malformedNumbers() throws {
        // 11 continuation bytes: longer than 64 bits.
        bcExpectCode(.valueOutOfRange) { try bcDecode(UInt64.self, bcBuffer([0x03] + Array(repeating: 0xFF, count: 10) + [0x01])) }
        // The 10th byte may only carry one bit.
        bcExpectCode(.valueOutOfRange) { try bcDecode(UInt64.self, bcBuffer([0x03] + Array(repeating: 0xFF, count: 9) + [0x02])) }
        bcExpectCode(.truncated) { try bcDecode(UInt64.self, bcBuffer([0x03, 0x80])) }
        bcExpectCode(.truncated) { try bcDecode(Double.self, bcBuffer([0x06, 0, 0, 0])) }
        bcExpectCode(.truncated) { try bcDecode(Int.self, bcBuffer([])) }
        bcExpectCode(.invalidTag) { try bcDecode(Int.self, bcBuffer([0x42, 0x00])) }
    }

    @Test func invalidUTF8() throws {
        bcExpectCode(.invalidUTF8) { try bcDecode(String.self, bcBuffer([0x07, 0x02, 0xC3, 0x28])) }
        bcExpectCode(.invalidUTF8) { try bcDecode(String.self, bcBuffer([0x07, 0x01, 0xFF])) }
        // An overlong encoding of "/" and a lone surrogate are not valid UTF-8 either.
        bcExpectCode(.invalidUTF8) { try bcDecode(String.self, bcBuffer([0x07, 0x02, 0xC0, 0xAF])) }
        bcExpectCode(.invalidUTF8) { try bcDecode(String.self, bcBuffer([0x07, 0x03, 0xED, 0xA0, 0x80])) }
    }

    @Test func trailingGarbageInsideContainers() throws {
        // {name: "a", age: 1} is 0A 0E 04 'name' 07 01 'a' 03 'age' 04 02; add a stray byte inside the body.
        var good = bcBytes(try bcEncode(Person(name: "a", age: 1)))
        #expect(try bcDecode(Person.self, bcBuffer(good)) == Person(name: "a", age: 1))
        good[1] += 1
        bcExpectCode(.malformed) { try bcDecode(Person.self, bcBuffer(good + [0x07])) }
        bcExpectCode(.malformed) { try bcDecode(Person.self, bcBuffer(good + [0x00])) }
        // An unkeyed container whose last element is cut off inside the container.
        bcExpectCode(.malformed) { try bcDecode([Int].self, bcBuffer([0x09, 0x04, 0x04, 0x02, 0x05, 0x00])) }
        bcExpectCode(.malformed) { try bcDecode([Int].self, bcBuffer([0x09, 0x03, 0x04, 0x02, 0x04])) }
    }

    @Test func decoderReadsOneValueAndLeavesTheRest() throws {
        var buffer = ByteBuffer(bytes: [0xEE])  // an unrelated prefix already read
        buffer.moveReaderIndex(forwardBy: 1)
        let encoder = BinaryEncoder()
        try encoder.encode(42, into: &buffer)
        try encoder.encode("two", into: &buffer)
        try encoder.encode(Person(name: "p", age: 3), into: &buffer)
        try encoder.encode([1.5, 2.5], into: &buffer)
        buffer.writeInteger(UInt8(0xFF))
        let decoder = BinaryDecoder()
        #expect(try decoder.decode(Int.self, from: &buffer) == 42)
        #expect(try decoder.decode(String.self, from: &buffer) == "two")
        #expect(try decoder.decode(Person.self, from: &buffer) == Person(name: "p", age: 3))
        let before = buffer.readerIndex
        bcExpectCode(.typeMismatch) { try decoder.decode(String.self, from: &buffer) }
        #expect(buffer.readerIndex == before)
        #expect(try decoder.decode([Double].self, from: &buffer) == [1.5, 2.5])
        #expect(buffer.readableBytes == 1)
    }

    @Test func depthLimit() throws {
        var nested: BCTree = .leaf(1)
        for _ in 0..<100 { nested = .node([nested], label: nil) }
        let encoded = try bcEncode(nested)
        bcExpectCode(.depthLimitExceeded) { try bcDecode(BCTree.self, encoded) }
        #expect(try bcDecode(BCTree.self, encoded, maxDepth: 1000) == nested)
    }

    final class Chain: Codable {
        let next: Chain?
    }

    @Test func deepHostileNestingDoesNotOverflowTheStack() throws {
        // Builds {next: {next: ... {} ...}} 20 000 levels deep, back to front.
        var reversed: [UInt8] = [0x00, 0x0A]
        for _ in 0..<20_000 {
            var prefix: [UInt8] = [0x0A]
            var length = UInt64(5 + reversed.count)
            while length >= 0x80 {
                prefix.append(UInt8(truncatingIfNeeded: length) | 0x80)
                length >>= 7
            }
            prefix.append(UInt8(length))
            prefix += [0x04] + Array("next".utf8)
            reversed += prefix.reversed()
        }
        let input = bcBuffer(reversed.reversed())
        bcExpectCode(.depthLimitExceeded) { try bcDecode(Chain.self, input) }
        // Skipping it as an unknown field is O(1).
        struct Other: Codable { var other: Int? }
        #expect(try bcDecode(Other.self, input).other == nil)
    }
}
