import NIOCore
import Testing

@testable import ClusterTransport

@Suite("BinaryCoder properties")
struct BinaryCoderPropertyTests {
    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func randomValuesRoundTrip(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        for _ in 0..<150 {
            let sample = random.sample()
            let encoded = try bcEncode(sample)
            let decoded = try bcDecode(BCSample.self, encoded)
            #expect(decoded == sample)
            // Encoding is deterministic apart from Set and Dictionary order: re-encoding gives the same size.
            #expect(try bcEncode(decoded).readableBytes == encoded.readableBytes)
        }
    }

    @Test func randomValuesRoundTripInSequence() throws {
        var random = SeededRandom(seed: 99)
        let samples = (0..<20).map { _ in random.sample() }
        var buffer = ByteBuffer()
        for sample in samples {
            try BinaryEncoder().encode(sample, into: &buffer)
            try BinaryEncoder().encode(sample.tree, into: &buffer)
        }
        for sample in samples {
            #expect(try BinaryDecoder().decode(BCSample.self, from: &buffer) == sample)
            #expect(try BinaryDecoder().decode(BCTree.self, from: &buffer) == sample.tree)
        }
        #expect(buffer.readableBytes == 0)
    }

    /// Every value must be skippable without its type: the type-free `valueEnd` agrees with what decoding consumed.
    @Test func everyEncodingIsSelfDelimiting() throws {
        var random = SeededRandom(seed: 5)
        for _ in 0..<50 {
            let encoded = try bcEncode(random.sample())
            let reader = BinaryReader(bytes: encoded)
            #expect(try reader.valueEnd(at: 0, limit: encoded.readableBytes) == encoded.readableBytes)
        }
    }

    @Test func everyTruncationThrows() throws {
        var random = SeededRandom(seed: 7)
        for _ in 0..<6 {
            let encoded = bcBytes(try bcEncode(random.sample()))
            for length in 0..<encoded.count {
                #expect(throws: (any Error).self) { try bcDecode(BCSample.self, bcBuffer(Array(encoded[..<length]))) }
            }
        }
    }

    @Test func mutatedInputNeverCrashes() throws {
        var random = SeededRandom(seed: 11)
        var decodedCount = 0
        var failedCount = 0
        for round in 0..<40 {
            let original = bcBytes(try bcEncode(random.sample()))
            for _ in 0..<150 {
                var mutated = original
                for _ in 0..<(1 + random.count(3)) {
                    let index = Int(random.next() % UInt64(mutated.count))
                    switch random.next() % 4 {
                    case 0: mutated[index] = UInt8(truncatingIfNeeded: random.next())
                    case 1: mutated[index] ^= 1 << (random.next() % 8)
                    case 2: mutated.insert(UInt8(truncatingIfNeeded: random.next()), at: index)
                    default: if mutated.count > 1 { mutated.remove(at: index) }
                    }
                }
                var input = bcBuffer(mutated)
                var decoder = BinaryDecoder()
                decoder.maxDepth = 16 + round % 8
                do {
                    let value = try decoder.decode(BCSample.self, from: &input)
                    decodedCount += 1
                    // Whatever decoded must encode again.
                    _ = try bcEncode(value)
                } catch {
                    failedCount += 1
                }
                // Other types over the same bytes.
                _ = try? BinaryDecoder().decode(BCTree.self, from: &input)
                _ = try? BinaryDecoder().decode([String: [Int?]].self, from: &input)
            }
        }
        #expect(failedCount > 0)
        #expect(decodedCount + failedCount == 40 * 150)
    }

    @Test func randomGarbageNeverCrashes() throws {
        var random = SeededRandom(seed: 13)
        for _ in 0..<3000 {
            let garbage = (0..<random.count(40)).map { _ in UInt8(truncatingIfNeeded: random.next() % 14) }
            let decoder = BinaryDecoder()
            var input = bcBuffer(garbage)
            _ = try? decoder.decode(BCSample.self, from: &input)
            _ = try? decoder.decode(BCTree.self, from: &input)
            _ = try? decoder.decode([BCShape?].self, from: &input)
            _ = try? decoder.decode(Int???.self, from: &input)
            _ = try? decoder.decode([String: Double].self, from: &input)
        }
    }
}
