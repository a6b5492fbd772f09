import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@testable import ClusterTransport

private func incompressible(_ count: Int, seed: UInt64 = 42) -> ByteBuffer {
    var random = SeededRandom(seed: seed)
    return ByteBuffer(bytes: random.bytes(count))
}

private func compressible(_ count: Int) -> ByteBuffer {
    ByteBuffer(bytes: (0..<count).map { UInt8(truncatingIfNeeded: ($0 / 16) % 7) })
}

private func encoded(_ frames: [ClusterFrame], compressAbove: Int? = nil) -> ByteBuffer {
    var buffer = ByteBuffer()
    for frame in frames { frame.encode(into: &buffer, compressAbove: compressAbove) }
    return buffer
}

/// Decodes a whole stream, including `decodeLast` at EOF.
private func decodeAll(_ bytes: ByteBuffer, maxFrameSize: Int = 1 << 20) throws -> [ClusterFrame] {
    let processor = NIOSingleStepByteToMessageProcessor(ClusterFrameDecoder(maxFrameSize: maxFrameSize))
    var frames: [ClusterFrame] = []
    try processor.process(buffer: bytes) { frames.append($0) }
    try processor.finishProcessing(seenEOF: true) { frames.append($0) }
    return frames
}

private func header(length: UInt32, kind: UInt8 = 16, flags: UInt8 = 0) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeInteger(length)
    buffer.writeInteger(kind)
    buffer.writeInteger(flags)
    return buffer
}

@Suite struct FrameCodecTests {
    static let kinds = FrameKind.known + [FrameKind(rawValue: 0), FrameKind(rawValue: 200), FrameKind(rawValue: 255)]

    @Test(arguments: kinds)
    func roundTripsEveryKindWithAndWithoutCompression(kind: FrameKind) throws {
        let payloads: [(ByteBuffer, shouldCompress: Bool)] = [
            (ByteBuffer(), false), (ByteBuffer(bytes: [1, 2, 3]), false), (compressible(63), false),
            (compressible(64), false), (compressible(65), true), (compressible(100_000), true),
            (incompressible(65), false), (incompressible(10_000), false),
        ]
        for (payload, shouldCompress) in payloads {
            for threshold in [nil, 64] as [Int?] {
                let frame = ClusterFrame(kind: kind, payload: payload)
                let bytes = encoded([frame], compressAbove: threshold)
                let decoded = try #require(try decodeAll(bytes).first)
                let expectCompressed = threshold != nil && shouldCompress
                #expect(decoded.kind == kind)
                #expect(
                    decoded.compressed == expectCompressed,
                    "\(payload.readableBytes) bytes, threshold \(threshold ?? -1)")
                if expectCompressed { #expect(bytes.readableBytes < ClusterFrame.headerSize + payload.readableBytes) }
                #expect(try decoded.decompressed(maxSize: payload.readableBytes) == frame)
            }
        }
    }

    @Test func wireLayoutIsLengthKindFlagsPayload() throws {
        var bytes = encoded([ClusterFrame(kind: .gossip, payload: ByteBuffer(bytes: [9, 8, 7]))])
        #expect(bytes.readBytes(length: bytes.readableBytes) == [0, 0, 0, 5, 33, 0, 9, 8, 7])

        var compressed = encoded([ClusterFrame(kind: .call, payload: compressible(1000))], compressAbove: 0)
        let length = compressed.readInteger(as: UInt32.self)
        #expect(length.map(Int.init) == compressed.readableBytes)
        #expect(compressed.readInteger(as: UInt8.self) == 16)
        #expect(compressed.readInteger(as: UInt8.self) == 1)
        #expect(compressed.readInteger(as: UInt32.self) == 1000)
        #expect(try LZ4.decompress(compressed, originalSize: 1000) == compressible(1000))
    }

    @Test func alreadyCompressedFrameIsWrittenAsIs() throws {
        let original = ClusterFrame(kind: .reply, payload: compressible(5000))
        let received = try #require(try decodeAll(encoded([original], compressAbove: 10)).first)
        #expect(received.compressed)
        let forwarded = try #require(try decodeAll(encoded([received], compressAbove: 10)).first)
        #expect(forwarded == received)
        #expect(try forwarded.decompressed(maxSize: 5000) == original)
    }

    @Test func decoderVerifierAcceptsStreams() throws {
        let frames = [
            ClusterFrame(kind: .hello, payload: ByteBuffer(bytes: [1, 2, 3, 4])),
            ClusterFrame(kind: .heartbeat, payload: ByteBuffer()),
            ClusterFrame(kind: .call, payload: compressible(300)),
        ]
        var pairs: [(ByteBuffer, [ClusterFrame])] = frames.map { (encoded([$0]), [$0]) }
        let compressedFrame = ClusterFrame(kind: .reply, payload: compressible(2000))
        let compressedBytes = encoded([compressedFrame], compressAbove: 100)
        let expected = try #require(try decodeAll(compressedBytes).first)
        pairs.append((compressedBytes, [expected]))
        pairs.append((encoded(frames), frames))
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) {
            ClusterFrameDecoder(maxFrameSize: 1 << 16)
        }
    }

    @Test func decodesAtEverySplitPoint() throws {
        let frames = [
            ClusterFrame(kind: .hello, payload: incompressible(40)),
            ClusterFrame(kind: .leave, payload: ByteBuffer()),
            ClusterFrame(kind: .gossip, payload: compressible(500)),
            ClusterFrame(kind: FrameKind(rawValue: 99), payload: ByteBuffer(bytes: [0xFF])),
        ]
        let stream = encoded(frames, compressAbove: 100)
        let expected = try decodeAll(stream)
        #expect(expected.count == frames.count)
        #expect(try expected.map { try $0.decompressed(maxSize: 1000) } == frames)
        for split in 0...stream.readableBytes {
            let processor = NIOSingleStepByteToMessageProcessor(ClusterFrameDecoder(maxFrameSize: 1000))
            var output: [ClusterFrame] = []
            try processor.process(buffer: stream.getSlice(at: 0, length: split)!) { output.append($0) }
            try processor.process(buffer: stream.getSlice(at: split, length: stream.readableBytes - split)!) {
                output.append($0)
            }
            try processor.finishProcessing(seenEOF: true) { output.append($0) }
            #expect(output == expected, "split at \(split)")
        }
    }

    @Test func decodesByteByByteInAChannel() throws {
        let frames = (0..<5).map { ClusterFrame(kind: .call, payload: incompressible($0 * 7, seed: UInt64($0))) }
        let stream = encoded(frames)
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(ClusterFrameDecoder(maxFrameSize: 100)))
        for index in 0..<stream.readableBytes {
            try channel.writeInbound(stream.getSlice(at: index, length: 1)!)
        }
        for frame in frames { #expect(try channel.readInbound(as: ClusterFrame.self) == frame) }
        #expect(try channel.readInbound(as: ClusterFrame.self) == nil)
        #expect(try channel.finish().isClean)
    }

    @Test func oversizeFrameIsRejectedFromTheHeaderAlone() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(ClusterFrameDecoder(maxFrameSize: 1 << 20)))
        var lengthOnly = ByteBuffer()
        lengthOnly.writeInteger(UInt32(100_000_000))
        #expect(throws: ClusterFrameError.frameTooLarge(declared: 100_000_000, max: 1 << 20)) {
            try channel.writeInbound(lengthOnly)
        }
        _ = try? channel.finish()

        var decoder = ClusterFrameDecoder(maxFrameSize: 1 << 20)
        var buffer = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: ClusterFrameError.frameTooLarge(declared: Int(UInt32.max), max: 1 << 20)) {
            try decoder.decode(buffer: &buffer)
        }
    }

    @Test func frameAtExactlyTheMaximumIsAccepted() throws {
        let frame = ClusterFrame(kind: .call, payload: incompressible(98))
        #expect(try decodeAll(encoded([frame]), maxFrameSize: 100) == [frame])
        #expect(throws: ClusterFrameError.frameTooLarge(declared: 101, max: 100)) {
            try decodeAll(encoded([ClusterFrame(kind: .call, payload: incompressible(99))]), maxFrameSize: 100)
        }
    }

    @Test(arguments: [UInt32(0), 1])
    func lengthWithoutKindAndFlagsIsRejected(length: UInt32) throws {
        var decoder = ClusterFrameDecoder(maxFrameSize: 100)
        var buffer = ByteBuffer()
        buffer.writeInteger(length)
        #expect(throws: ClusterFrameError.frameTooShort(declared: Int(length))) { try decoder.decode(buffer: &buffer) }
    }

    @Test(arguments: 1..<8)
    func reservedFlagBitsAreRejected(bit: Int) throws {
        for base: UInt8 in [0, 1] {
            let flags = base | UInt8(1 << bit)
            var bytes = header(length: 3, flags: flags)
            bytes.writeInteger(UInt8(0))
            #expect(throws: ClusterFrameError.unknownFlags(flags)) { try decodeAll(bytes) }
        }
    }

    @Test func truncatedStreamIsAnErrorAtEOF() throws {
        let frame = ClusterFrame(kind: .reply, payload: incompressible(20))
        let bytes = encoded([frame, frame])
        let one = encoded([frame]).readableBytes
        for length in 1..<bytes.readableBytes where length != one {
            let buffered = length < one ? length : length - one
            #expect(throws: ClusterFrameError.truncated(buffered: buffered), "prefix \(length)") {
                try decodeAll(bytes.getSlice(at: 0, length: length)!)
            }
        }
        #expect(try decodeAll(bytes.getSlice(at: 0, length: one)!) == [frame])
        #expect(try decodeAll(ByteBuffer()) == [])
    }

    @Test func corruptCompressedPayloadsAreRejected() throws {
        let original = compressible(4000)
        let block = try #require(LZ4.compress(original))
        func compressedFrame(size: UInt32, block: ByteBuffer) -> ClusterFrame {
            var payload = ByteBuffer()
            payload.writeInteger(size)
            payload.writeImmutableBuffer(block)
            return ClusterFrame(kind: .call, compressed: true, payload: payload)
        }
        // Valid as a control.
        #expect(try compressedFrame(size: 4000, block: block).decompressed(maxSize: 4000).payload == original)
        // Declared size differs from what the block expands to.
        #expect(throws: ClusterFrameError.corruptCompression) {
            try compressedFrame(size: 3999, block: block).decompressed(maxSize: 10_000)
        }
        #expect(throws: ClusterFrameError.corruptCompression) {
            try compressedFrame(size: 4001, block: block).decompressed(maxSize: 10_000)
        }
        // Shorter than the size prefix, or no block at all.
        for short in [[], [0], [0, 0, 0], [0, 0, 0, 1]] as [[UInt8]] {
            #expect(throws: ClusterFrameError.corruptCompression) {
                try ClusterFrame(kind: .call, compressed: true, payload: ByteBuffer(bytes: short)).decompressed(
                    maxSize: 100)
            }
        }
        // Truncated block and garbage block.
        #expect(throws: ClusterFrameError.corruptCompression) {
            try compressedFrame(size: 4000, block: block.getSlice(at: 0, length: block.readableBytes / 2)!)
                .decompressed(maxSize: 4000)
        }
        #expect(throws: ClusterFrameError.corruptCompression) {
            try compressedFrame(size: 4000, block: ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF])).decompressed(
                maxSize: 4000)
        }
        // A size lz4 could never reach from this block is refused before allocating it.
        #expect(throws: ClusterFrameError.corruptCompression) {
            try compressedFrame(size: UInt32(block.readableBytes * 255 + 1), block: block).decompressed(maxSize: .max)
        }
        // Random mutations never crash: each either fails cleanly or yields exactly the declared size.
        var random = SeededRandom(seed: 7)
        for _ in 0..<2000 {
            var mutated = block
            for _ in 0...random.below(4) {
                let index = random.below(mutated.readableBytes)
                mutated.setInteger(UInt8(truncatingIfNeeded: random.next()), at: index)
            }
            do {
                #expect(
                    try compressedFrame(size: 4000, block: mutated).decompressed(maxSize: 4000).payload.readableBytes
                        == 4000)
            } catch {
                #expect(error == .corruptCompression)
            }
        }
    }

    @Test func declaredOriginalSizeAboveMaximumIsRejected() throws {
        let frame = ClusterFrame(kind: .call, payload: compressible(10_000))
        let received = try #require(try decodeAll(encoded([frame], compressAbove: 0)).first)
        #expect(received.compressed)
        #expect(throws: ClusterFrameError.decompressedTooLarge(declared: 10_000, max: 9_999)) {
            try received.decompressed(maxSize: 9_999)
        }
        #expect(try received.decompressed(maxSize: 10_000) == frame)
        var huge = ByteBuffer()
        huge.writeInteger(UInt32.max)
        huge.writeBytes([0, 0])
        #expect(throws: ClusterFrameError.decompressedTooLarge(declared: Int(UInt32.max), max: 1 << 20)) {
            try ClusterFrame(kind: .call, compressed: true, payload: huge).decompressed(maxSize: 1 << 20)
        }
    }

    @Test func randomStreamsRoundTrip() throws {
        var random = SeededRandom(seed: 2024)
        for _ in 0..<100 {
            let frames = (0..<(1 + random.below(6))).map { _ in
                let size = random.below(3000)
                let payload = random.below(2) == 0 ? compressible(size) : incompressible(size, seed: random.next())
                return ClusterFrame(
                    kind: FrameKind(rawValue: UInt8(truncatingIfNeeded: random.next())), payload: payload)
            }
            let threshold: Int? = random.below(3) == 0 ? nil : random.below(200)
            let decoded = try decodeAll(encoded(frames, compressAbove: threshold))
            #expect(try decoded.map { try $0.decompressed(maxSize: 3000) } == frames)
        }
    }

    @Test func kindDescriptions() {
        #expect(FrameKind.call.description == "call")
        #expect(FrameKind(rawValue: 16) == .call)
        #expect(FrameKind(rawValue: 77).description == "unknown(77)")
        #expect(Set(FrameKind.known.map(\.rawValue)) == [1, 2, 3, 16, 17, 32, 33, 34])
    }
}
