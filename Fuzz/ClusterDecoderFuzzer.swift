// libFuzzer harness for the ClusterTransport decoders that a peer on the cluster port can reach. Built by
// `Fuzz/run.sh cluster`, not by SwiftPM; see docs/fuzzing.md.
//
// The first input byte (modulo 7) picks the target; the rest of the input is that target's input:
//  0 frames     A byte stream for ClusterFrameDecoder (maximum frame sizes 64 KiB and 16). Fed whole and one byte at
//               a time, it must give the same frames and error. The frames re-encode to exactly the bytes they
//               came from, and the error is the one the wire format calls for. Every frame then goes through the
//               checks of target 1.
//  1 lz4        The rest is the payload of a compressed frame: `u32 originalSize` + lz4 block. If
//               `decompressed(maxSize:)` succeeds, the block expands to exactly `originalSize` bytes and to no
//               other size. The plain payload compresses (`encode(compressAbove:)`) to a frame that is never larger
//               and that decompresses back to the same payload.
//  2 binary     BinaryDecoder. The second byte picks the type (see `binaryTargets`: the gossip payload [Member],
//               RemoteCallError, ClusterActorID, dictionaries, and two records of our own). A decoded value re-encodes
//               (at any buffer offset) to bytes that decode to an equal value and re-encode identically. The
//               bytes it consumed decode on their own to the same value. A failure throws BinaryCodingError or
//               the type's own DecodingError and leaves the reader index where it was.
//  3 call       CallEnvelope.decode. A decoded call re-encodes to exactly the input. Its arguments are read the
//               way ClusterInvocationDecoder reads them, and any failure is a RemoteCallError.serializationFailed.
//  4 reply      ReplyEnvelope.decode. A decoded reply re-encodes to exactly the bytes it consumed, or for a system
//               error to bytes that decode to the same error. An unreadable error gives the documented fallback.
//  5 handshake  The rest is a frame stream, split by ClusterFrameDecoder and fed to HandshakeStateMachine. Each
//               answer must be the one a reference model of the protocol expects (`HandshakeOracle`). The
//               handshake must never be established.
//  6 hello      The second byte picks a bit; the rest is the peer's hello payload. If the machine accepts the
//               hello, the harness answers as a peer that knows the cookie. The correct MAC must establish the
//               handshake with the announced peer. The MAC with that bit flipped, a MAC under another cookie,
//               certificate or hello, our own MAC reflected, or the right MAC in a compressed frame must not. If the
//               hello is one `HandshakeHello` writes itself, two state machines must also complete the handshake
//               with each other.
// Anything else (a trap, an AddressSanitizer report, a broken oracle) is a finding.
//
// Set STARLING_FUZZ_TRACE=1 to print what each input decoded to (for checking seeds and replaying findings).

import NIOCore

@testable import ClusterTransport

#if canImport(Glibc)
    import Glibc
#endif

// MARK: - Common

let tracing = getenv("STARLING_FUZZ_TRACE") != nil

@inline(never)
func finding(_ message: String) -> Never {
    fatalError("fuzz oracle: \(message)")
}

func trace(_ message: @autoclosure () -> String) {
    if tracing { print(message()) }
}

func hex(_ buffer: ByteBuffer, limit: Int = 48) -> String {
    let view = buffer.readableBytesView
    let text = view.prefix(limit).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    return view.count > limit ? "\(text)… (\(view.count) bytes)" : text
}

func hex(_ bytes: [UInt8]) -> String { hex(ByteBuffer(bytes: bytes)) }

/// "gossip/lz4 12B": kind, compression, payload size.
func describe(_ frame: ClusterFrame) -> String {
    "\(frame.kind)\(frame.compressed ? "/lz4" : "") \(frame.payload.readableBytes)B"
}

// MARK: - 0: frames

struct FrameRun {
    var frames: [ClusterFrame] = []
    var error: ClusterFrameError?
    /// Bytes of an incomplete last frame when the stream ended without an error.
    var leftover = 0
}

func frameError(_ error: any Error, _ function: String) -> ClusterFrameError {
    guard let error = error as? ClusterFrameError else {
        finding("ClusterFrameDecoder.\(function) threw \(type(of: error)): \(error)")
    }
    return error
}

/// Decodes `chunks` in order with one decoder until the first error, then ends the stream with `decodeLast`.
func decodeFrames(_ chunks: [ByteBuffer], maxFrameSize: Int) -> FrameRun {
    var decoder = ClusterFrameDecoder(maxFrameSize: maxFrameSize)
    var run = FrameRun()
    var accumulated = ByteBuffer()
    for var chunk in chunks {
        accumulated.writeBuffer(&chunk)
        do {
            while let frame = try decoder.decode(buffer: &accumulated) { run.frames.append(frame) }
        } catch {
            run.error = frameError(error, "decode")
            return run
        }
    }
    run.leftover = accumulated.readableBytes
    // At EOF there is no further frame, and a partial one is refused as `truncated` with its size.
    do {
        if let frame = try decoder.decodeLast(buffer: &accumulated, seenEOF: true) {
            finding("decodeLast returned a \(frame.kind) frame that decode did not")
        }
        guard run.leftover == 0 else { finding("decodeLast accepted \(run.leftover) buffered bytes at EOF") }
    } catch {
        let error = frameError(error, "decodeLast")
        guard run.leftover > 0, error.code == .truncated(buffered: run.leftover) else {
            finding("decodeLast at EOF with \(run.leftover) buffered bytes threw \(error)")
        }
    }
    return run
}

/// Decodes `wire`, which must hold exactly one frame.
func decodeOne(_ wire: ByteBuffer, _ context: @autoclosure () -> String) -> ClusterFrame {
    let run = decodeFrames([wire], maxFrameSize: max(2, wire.readableBytes - 4))
    guard run.error == nil, run.leftover == 0, run.frames.count == 1 else {
        finding(
            "\(context()): \(hex(wire)) decodes to \(run.frames.count) frames, "
                + "error \(String(describing: run.error)), \(run.leftover) bytes left")
    }
    return run.frames[0]
}

/// The error the wire format calls for at the start of `rest` (what follows the last whole frame), or nil when
/// `rest` is the start of a valid frame.
func expectedFrameError(_ rest: ByteBuffer, maxFrameSize: Int) -> ClusterFrameError? {
    guard let declared = rest.getInteger(at: rest.readerIndex, as: UInt32.self) else { return nil }
    let length = Int(declared)
    if length > maxFrameSize { return .frameTooLarge(declared: length, max: maxFrameSize) }
    if length < 2 { return .frameTooShort(declared: length) }
    guard rest.readableBytes >= 4 + length else { return nil }
    let flags = rest.getInteger(at: rest.readerIndex + 5, as: UInt8.self)!
    return flags & 0xFE != 0 ? .unknownFlags(flags) : nil
}

func fuzzFrames(_ input: ByteBuffer) {
    var bytes = input
    var drip: [ByteBuffer] = []
    drip.reserveCapacity(bytes.readableBytes)
    while let one = bytes.readSlice(length: 1) { drip.append(one) }

    for maxFrameSize in [1 << 16, 16] {
        let whole = decodeFrames([input], maxFrameSize: maxFrameSize)
        let dripped = decodeFrames(drip, maxFrameSize: maxFrameSize)
        guard whole.frames == dripped.frames, whole.error == dripped.error, whole.leftover == dripped.leftover else {
            finding(
                "byte-at-a-time decoding differs (max \(maxFrameSize)): \(whole.frames.count) vs "
                    + "\(dripped.frames.count) frames, \(String(describing: whole.error)) vs "
                    + "\(String(describing: dripped.error)), \(whole.leftover) vs \(dripped.leftover) left")
        }
        trace(
            "frames (max \(maxFrameSize)): \(whole.frames.map(describe)) "
                + "error \(String(describing: whole.error)) left \(whole.leftover)")

        // The frames, encoded again, are exactly the bytes they were decoded from.
        var encoded = ByteBuffer()
        for frame in whole.frames {
            guard frame.payload.readableBytes + 2 <= maxFrameSize else { finding("a frame above maxFrameSize") }
            frame.encode(into: &encoded, compressAbove: nil)
        }
        guard encoded.readableBytes <= input.readableBytes,
            input.getSlice(at: input.readerIndex, length: encoded.readableBytes) == encoded
        else { finding("re-encoded frames \(hex(encoded)) are not a prefix of the input") }
        let rest = input.getSlice(
            at: input.readerIndex + encoded.readableBytes, length: input.readableBytes - encoded.readableBytes)!
        let expected = expectedFrameError(rest, maxFrameSize: maxFrameSize)
        guard whole.error == expected else {
            finding(
                "after \(whole.frames.count) frames, \(hex(rest)) gave \(String(describing: whole.error)), "
                    + "expected \(String(describing: expected))")
        }
        if whole.error == nil, whole.leftover != rest.readableBytes {
            finding("\(whole.leftover) bytes left, but \(rest.readableBytes) follow the last frame")
        }
        if maxFrameSize == 1 << 16 {
            for frame in whole.frames {
                checkFrameRoundTrip(frame)
                checkDecompression(frame)
            }
        }
    }
}

/// Encode, decode again, compare.
func checkFrameRoundTrip(_ frame: ClusterFrame) {
    var wire = ByteBuffer()
    frame.encode(into: &wire, compressAbove: nil)
    guard wire.readableBytes == ClusterFrame.headerSize + frame.payload.readableBytes else {
        finding("\(describe(frame)) encodes to \(wire.readableBytes) bytes")
    }
    let again = decodeOne(wire, "re-encoded \(frame.kind) frame")
    guard again == frame else { finding("frame round trip changed \(frame.kind) frame: \(hex(wire))") }
}

// MARK: - 1: lz4

let maxDecompressedSize = 1 << 16

func fuzzLZ4(_ payload: ByteBuffer) {
    let frame = ClusterFrame(kind: .gossip, compressed: true, payload: payload)
    checkFrameRoundTrip(frame)
    checkDecompression(frame)
}

/// `decompressed(maxSize:)` of any frame, and what must hold when it succeeds.
func checkDecompression(_ frame: ClusterFrame) {
    let declared = frame.payload.getInteger(at: frame.payload.readerIndex, as: UInt32.self).map { Int($0) }
    let plain: ClusterFrame
    do {
        plain = try frame.decompressed(maxSize: maxDecompressedSize)
    } catch {
        trace("decompressed: \(error)")
        guard frame.compressed else { finding("decompressing an uncompressed frame threw \(error)") }
        switch error.code {
        case .decompressedTooLarge(let size, let max):
            guard size == declared, max == maxDecompressedSize, size > max else {
                finding("decompressedTooLarge(\(size), \(max)) for declared \(String(describing: declared))")
            }
        case .corruptCompression:
            // The size must not be the reason: with room for it, the block is still refused.
            if let declared, declared <= maxDecompressedSize {
                var block = frame.payload
                block.moveReaderIndex(forwardBy: 4)
                if let plain = try? LZ4.decompress(block, originalSize: declared) {
                    finding("decompressed refused a block that LZ4.decompress expands to \(plain.readableBytes) bytes")
                }
            }
        default:
            finding("decompressed threw \(error)")
        }
        return
    }
    guard !plain.compressed, plain.kind == frame.kind else { finding("decompressed frame is still compressed") }
    guard frame.compressed, let declared else {
        guard plain == frame else { finding("decompressing an uncompressed frame changed it") }
        checkCompressionRoundTrip(kind: frame.kind, frame.payload)
        return
    }
    trace("decompressed: \(declared) bytes from a \(frame.payload.readableBytes - 4)-byte block")
    guard plain.payload.readableBytes == declared else {
        finding("decompressed to \(plain.payload.readableBytes) bytes, declared \(declared)")
    }
    // The maximum only bounds the declared size: exactly enough room still works, one byte less does not.
    guard (try? frame.decompressed(maxSize: declared)) == plain else {
        finding("decompressed(maxSize: declared) differs from decompressed(maxSize: \(maxDecompressedSize))")
    }
    if declared > 0 {
        do {
            _ = try frame.decompressed(maxSize: declared - 1)
            finding("decompressed(maxSize: \(declared - 1)) accepted \(declared) declared bytes")
        } catch {
            guard error.code == .decompressedTooLarge(declared: declared, max: declared - 1) else {
                finding("decompressed(maxSize: declared - 1) threw \(error)")
            }
        }
    }
    // The block expands to exactly the declared size and to no other.
    var block = frame.payload
    block.moveReaderIndex(forwardBy: 4)
    for wrong in [declared - 1, declared + 1] where wrong >= 0 {
        if let other = try? LZ4.decompress(block, originalSize: wrong) {
            finding("a block of \(declared) bytes also expands to \(wrong) (\(other.readableBytes) bytes)")
        }
    }
    checkCompressionRoundTrip(kind: frame.kind, plain.payload)
}

/// A plain payload, sent with compression allowed, arrives as the same payload and never takes more bytes.
func checkCompressionRoundTrip(kind: FrameKind, _ payload: ByteBuffer) {
    let frame = ClusterFrame(kind: kind, payload: payload)
    var wire = ByteBuffer()
    frame.encode(into: &wire, compressAbove: 0)
    let sent = decodeOne(wire, "compressed \(kind) frame")
    guard sent.kind == kind else { finding("compression changed the frame kind") }
    if sent.compressed {
        guard payload.readableBytes > 4, wire.readableBytes < ClusterFrame.headerSize + payload.readableBytes else {
            finding("compressed a \(payload.readableBytes)-byte payload into a \(wire.readableBytes)-byte frame")
        }
    } else {
        guard sent.payload == payload else { finding("uncompressed payload changed on the wire") }
    }
    let back: ClusterFrame
    do {
        back = try sent.decompressed(maxSize: payload.readableBytes)
    } catch {
        finding("our own \(sent.compressed ? "compressed" : "plain") frame of \(payload.readableBytes) bytes: \(error)")
    }
    guard back == frame else { finding("compression round trip changed a \(payload.readableBytes)-byte payload") }
    // The standalone block API agrees.
    if let block = LZ4.compress(payload) {
        guard (try? LZ4.decompress(block, originalSize: payload.readableBytes)) == payload else {
            finding("LZ4.compress/decompress round trip changed a \(payload.readableBytes)-byte payload")
        }
    } else if payload.readableBytes > 0 {
        finding("LZ4.compress failed on \(payload.readableBytes) bytes")
    }
}

// MARK: - 2: BinaryDecoder

/// A record with the shapes the synthesized coders produce: nested optionals, raw-value and associated-value enums,
/// bytes, floats and recursion.
struct FuzzRecord: Codable, Equatable {
    enum Kind: String, Codable { case alpha, beta, gamma }

    enum Shape: Codable, Equatable {
        case point
        case circle(radius: Int)
        case labelled(String, tag: UInt8?)
    }

    /// A Float compared by bit pattern, so NaN round-trips are checked too.
    struct Ratio: Codable, Equatable {
        var value: Float
        static func == (lhs: Ratio, rhs: Ratio) -> Bool { lhs.value.bitPattern == rhs.value.bitPattern }
    }

    var id: UInt64
    var name: String?
    var kind: Kind
    var shape: Shape?
    var maybe: Int??
    var tags: [String]
    var bytes: [UInt8]
    var ratio: Ratio?
    var precise: Double?
    var small: Int8
    var flag: Bool
    var blob: ByteBuffer?
    /// Nested optionals in an unkeyed container and under a key: `.some(nil)` is written with the "some" marker.
    var layers: [Int??]?
    var deep: Bool???
    var children: [FuzzRecord]?

    static func == (lhs: FuzzRecord, rhs: FuzzRecord) -> Bool {
        lhs.id == rhs.id && lhs.name == rhs.name && lhs.kind == rhs.kind && lhs.shape == rhs.shape
            && lhs.maybe == rhs.maybe && lhs.tags == rhs.tags && lhs.bytes == rhs.bytes && lhs.ratio == rhs.ratio
            && lhs.precise?.bitPattern == rhs.precise?.bitPattern && lhs.small == rhs.small && lhs.flag == rhs.flag
            && lhs.blob == rhs.blob && lhs.layers == rhs.layers && lhs.deep == rhs.deep && lhs.children == rhs.children
    }
}

/// Coded by hand through the container calls the synthesized coders do not make: containers nested in unkeyed
/// ones, super encoders and decoders, explicit nils, `contains`, `count` and `isAtEnd`.
struct FuzzManual: Codable, Equatable {
    var numbers: [Int16]
    var flags: [Bool?]
    var base: UInt32
    /// An explicit nil under "gap".
    var gap: Bool
    var inner: UInt16
    var point: Int32
    var ratio: Float
    var wide: UInt64
    /// Through an unkeyed container's super decoder, then a single-value container's `decodeNil`.
    var note: String?
    var single: Int64

    enum Key: String, CodingKey { case numbers, flags, gap, inner, list, single, value }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        var numbers = try container.nestedUnkeyedContainer(forKey: .numbers)
        self.numbers = []
        if let count = numbers.count { self.numbers.reserveCapacity(count) }
        while !numbers.isAtEnd { self.numbers.append(try numbers.decode(Int16.self)) }
        var flags = try container.nestedUnkeyedContainer(forKey: .flags)
        self.flags = []
        while !flags.isAtEnd { self.flags.append(try flags.decodeNil() ? nil : try flags.decode(Bool.self)) }
        base = try UInt32(from: try container.superDecoder())
        gap = container.contains(.gap) ? try container.decodeNil(forKey: .gap) : false
        inner = try container.nestedContainer(keyedBy: Key.self, forKey: .inner).decode(UInt16.self, forKey: .value)
        var list = try container.nestedUnkeyedContainer(forKey: .list)
        point = try list.nestedContainer(keyedBy: Key.self).decode(Int32.self, forKey: .value)
        var pair = try list.nestedUnkeyedContainer()
        ratio = try pair.decode(Float.self)
        wide = try pair.decode(UInt64.self)
        let note = try list.superDecoder().singleValueContainer()
        self.note = note.decodeNil() ? nil : try note.decode(String.self)
        single = try container.superDecoder(forKey: .single).singleValueContainer().decode(Int64.self)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        var numbers = container.nestedUnkeyedContainer(forKey: .numbers)
        for number in self.numbers { try numbers.encode(number) }
        var flags = container.nestedUnkeyedContainer(forKey: .flags)
        for flag in self.flags {
            if let flag { try flags.encode(flag) } else { try flags.encodeNil() }
        }
        try base.encode(to: container.superEncoder())
        if gap { try container.encodeNil(forKey: .gap) }
        var inner = container.nestedContainer(keyedBy: Key.self, forKey: .inner)
        try inner.encode(self.inner, forKey: .value)
        var list = container.nestedUnkeyedContainer(forKey: .list)
        var point = list.nestedContainer(keyedBy: Key.self)
        try point.encode(self.point, forKey: .value)
        var pair = list.nestedUnkeyedContainer()
        try pair.encode(ratio)
        try pair.encode(wide)
        var note = list.superEncoder().singleValueContainer()
        if let text = self.note { try note.encode(text) } else { try note.encodeNil() }
        var single = container.superEncoder(forKey: .single).singleValueContainer()
        try single.encode(self.single)
    }

    static func == (lhs: FuzzManual, rhs: FuzzManual) -> Bool {
        lhs.numbers == rhs.numbers && lhs.flags == rhs.flags && lhs.base == rhs.base && lhs.gap == rhs.gap
            && lhs.inner == rhs.inner && lhs.point == rhs.point && lhs.ratio.bitPattern == rhs.ratio.bitPattern
            && lhs.wide == rhs.wide && lhs.note == rhs.note && lhs.single == rhs.single
    }
}

/// RemoteCallError's `==` compares only code and detail; on the wire, file and line must survive too.
func sameError(_ lhs: RemoteCallError, _ rhs: RemoteCallError) -> Bool {
    lhs == rhs && lhs.file == rhs.file && lhs.line == rhs.line
}

/// The types target 2 decodes, by the second input byte (modulo the count).
let binaryTargets: [(String, @Sendable (ByteBuffer) -> Void)] = [
    ("[Member]", { checkBinary([Member].self, $0) }),
    ("RemoteCallError", { checkBinary(RemoteCallError.self, $0, same: sameError) }),
    ("ClusterActorID", { checkBinary(ClusterActorID.self, $0) }),
    ("[String: [Int]]", { checkBinary([String: [Int]].self, $0, ordered: false) }),
    ("FuzzRecord", { checkBinary(FuzzRecord.self, $0) }),
    ("[Int: String]", { checkBinary([Int: String].self, $0, ordered: false) }),
    ("[NodeID: Endpoint]", { checkBinary([NodeID: Endpoint].self, $0, ordered: false) }),
    ("[ClusterActorID?]", { checkBinary([ClusterActorID?].self, $0) }),
    ("FuzzManual", { checkBinary(FuzzManual.self, $0) }),
]

func fuzzBinary(_ input: ByteBuffer) {
    var input = input
    guard let which = input.readInteger(as: UInt8.self) else { return }
    let (name, check) = binaryTargets[Int(which) % binaryTargets.count]
    trace("binary: \(name)")
    check(input)
}

func isExpectedDecodingError(_ error: any Error) -> Bool {
    error is BinaryCodingError || error is DecodingError
        // ByteBuffer's own init(from:) (a base64 string) throws _NIOBase64.Base64Error.
        || String(reflecting: type(of: error)).hasPrefix("_NIOBase64.")
}

/// `ordered`: whether equal values always encode to the same bytes. Not so for dictionaries: two equal ones can
/// list their keys in different orders.
func checkBinary<T: Codable & Equatable>(
    _: T.Type, _ input: ByteBuffer, ordered: Bool = true, same: (T, T) -> Bool = { $0 == $1 }
) {
    var buffer = input
    let value: T
    do {
        value = try BinaryDecoder().decode(T.self, from: &buffer)
    } catch {
        trace("binary: \(T.self) refused: \(error)")
        guard isExpectedDecodingError(error) else { finding("decoding \(T.self) threw \(type(of: error)): \(error)") }
        guard buffer.readerIndex == input.readerIndex else {
            finding("a failed decode of \(T.self) moved the reader index")
        }
        return
    }
    trace("binary: \(T.self) = \(value)")
    let consumed = buffer.readerIndex - input.readerIndex
    guard consumed > 0, consumed <= input.readableBytes else {
        finding("decoding \(T.self) consumed \(consumed) bytes")
    }

    // The bytes it consumed are the whole value: on their own, and at another offset, they decode the same.
    let valueBytes = input.getSlice(at: input.readerIndex, length: consumed)!
    var shifted = ByteBuffer(bytes: [0xFF, 0xFE, 0xFD])
    shifted.writeImmutableBuffer(valueBytes)
    shifted.moveReaderIndex(forwardBy: 3)
    for var alone in [valueBytes, shifted] {
        guard let again = try? BinaryDecoder().decode(T.self, from: &alone), same(again, value),
            alone.readableBytes == 0
        else { finding("the \(consumed) bytes \(hex(valueBytes)) do not decode to the same \(T.self) on their own") }
    }

    // Round trip: encode, decode, compare; encode again, same bytes.
    var first = ByteBuffer()
    do {
        try BinaryEncoder().encode(value, into: &first)
    } catch {
        finding("a decoded \(T.self) does not encode: \(error)")
    }
    var reread = first
    let again: T
    do {
        again = try BinaryDecoder().decode(T.self, from: &reread)
    } catch {
        finding("re-encoded \(T.self) \(hex(first)) does not decode: \(error)")
    }
    guard reread.readableBytes == 0 else { finding("re-encoded \(T.self) has \(reread.readableBytes) trailing bytes") }
    guard same(again, value) else { finding("round trip changed \(T.self): \(value) -> \(again)") }
    var second = ByteBuffer()
    try? BinaryEncoder().encode(again, into: &second)
    if ordered {
        guard second == first else {
            finding("encoding \(T.self) is not deterministic: \(hex(first)) vs \(hex(second))")
        }
    } else {
        guard second.readableBytes == first.readableBytes else {
            finding("equal \(T.self) values encode to different sizes")
        }
    }
    // Appending after existing bytes writes the same encoding, which decodes the same from there.
    var appended = ByteBuffer(bytes: [0x42])
    try? BinaryEncoder().encode(value, into: &appended)
    guard !ordered || appended.getSlice(at: 1, length: appended.readableBytes - 1) == first else {
        finding("encoding \(T.self) after one byte differs: \(hex(appended))")
    }
    appended.moveReaderIndex(forwardBy: 1)
    guard let fromOffset = try? BinaryDecoder().decode(T.self, from: &appended), same(fromOffset, value),
        appended.readableBytes == 0
    else { finding("\(T.self) encoded after one byte does not decode the same: \(hex(appended))") }
}

// MARK: - 3: CallEnvelope

func sameCall(_ lhs: CallEnvelope, _ rhs: CallEnvelope) -> Bool {
    lhs.callID == rhs.callID && lhs.timeoutMillis == rhs.timeoutMillis && lhs.recipient == rhs.recipient
        && lhs.target == rhs.target && lhs.substitutions == rhs.substitutions && lhs.arguments == rhs.arguments
}

func fuzzCall(_ input: ByteBuffer) {
    var buffer = input
    guard let call = CallEnvelope.decode(&buffer) else {
        trace("call: refused")
        return
    }
    trace(
        "call: #\(call.callID) \(call.timeoutMillis)ms \(call.recipient) \(call.target) \(call.substitutions) "
            + "args \(hex(call.arguments))")
    guard buffer.readableBytes == 0 else { finding("the arguments of a call did not take the rest of the payload") }
    var wire = ByteBuffer()
    call.encode(into: &wire)
    guard wire == input else { finding("call re-encodes to \(hex(wire))") }
    var again = wire
    guard let reread = CallEnvelope.decode(&again), sameCall(reread, call) else {
        finding("call round trip changed it")
    }

    // The arguments as the recipient reads them: any failure is reported as serializationFailed.
    var arguments = ClusterInvocationDecoder(substitutions: [], arguments: call.arguments, decoder: BinaryDecoder())
    do {
        let text: String = try arguments.decodeNextArgument()
        let number: Int = try arguments.decodeNextArgument()
        let table: [String: [Int]] = try arguments.decodeNextArgument()
        trace("call arguments: \(text), \(number), \(table)")
    } catch let error as RemoteCallError {
        guard error.code == .serializationFailed else { finding("argument decoding failed with \(error)") }
    } catch {
        finding("argument decoding threw \(type(of: error)): \(error)")
    }
}

// MARK: - 4: ReplyEnvelope

func sameOutcome(_ lhs: CallOutcome, _ rhs: CallOutcome) -> Bool {
    switch (lhs, rhs) {
    case (.void, .void): true
    case (.value(let a), .value(let b)): a == b
    case (.error(let m, let a), .error(let n, let b)): m == n && a == b
    case (.systemError(let a), .systemError(let b)): sameError(a, b)
    default: false
    }
}

func fuzzReply(_ input: ByteBuffer) {
    var buffer = input
    guard let (callID, outcome) = ReplyEnvelope.decode(&buffer) else {
        trace("reply: refused")
        return
    }
    trace("reply: #\(callID) \(outcome)")
    let consumed = input.getSlice(at: input.readerIndex, length: input.readableBytes - buffer.readableBytes)!
    var wire = ByteBuffer()
    ReplyEnvelope.encode(callID: callID, outcome, into: &wire)
    switch outcome {
    case .void, .value, .error:
        guard wire == consumed else { finding("reply re-encodes to \(hex(wire)), read \(hex(consumed))") }
        if case .void = outcome {
            guard consumed.readableBytes == 9 else { finding("a void reply consumed \(consumed.readableBytes) bytes") }
        } else {
            guard buffer.readableBytes == 0 else { finding("a reply value did not take the rest of the payload") }
        }
    case .systemError(let error):
        // What the decoder found must agree with a direct decode of the bytes after the tag.
        var rest = input.getSlice(at: input.readerIndex + 9, length: input.readableBytes - 9)!
        if let direct = try? BinaryDecoder().decode(RemoteCallError.self, from: &rest) {
            guard sameError(direct, error), rest.readableBytes == buffer.readableBytes else {
                finding("reply decoded system error \(error), direct decode \(direct)")
            }
        } else {
            guard error.code == .serializationFailed, error.detail == "unreadable error reply",
                buffer.readableBytes == input.readableBytes - 9
            else { finding("an unreadable system error gave \(error)") }
        }
    }
    var again = wire
    guard let (id2, outcome2) = ReplyEnvelope.decode(&again), id2 == callID, sameOutcome(outcome2, outcome),
        again.readableBytes == 0
    else { finding("reply round trip changed \(outcome): \(hex(wire))") }
}

// MARK: - 5 and 6: handshake

/// The local side of every handshake the harness runs.
enum Local {
    static let cookie = ClusterCookie("starling-fuzz-cookie-0123456789abcdef")!
    static let otherCookie = ClusterCookie("starling-fuzz-cookie-0123456789abcdeF")!
    static let node = NodeID(name: NodeName("fuzz-local")!, incarnation: Incarnation(rawValue: 1))
    static let configuration = HandshakeConfiguration(
        node: node, listen: Endpoint(host: "10.0.0.1", port: 4370)!, role: .broker, weight: 1, features: .lz4,
        cookie: cookie)
    /// SHA-256 of our certificate's public key and of the peer's, as TLS would give them.
    static let binding = [UInt8](repeating: 0x11, count: 32)
    static let peerBinding = [UInt8](repeating: 0x22, count: 32)
    static let nonce = [UInt8](repeating: 0xA5, count: 32)
    static let hello = HandshakeHello(
        node: node, listen: configuration.listen, role: .broker, weight: 1, features: .lz4, nonce: nonce
    ).encoded

    static func machine() -> HandshakeStateMachine {
        HandshakeStateMachine(
            configuration: configuration, localBinding: binding, peerBinding: peerBinding, nonce: nonce)
    }

    static var party: HandshakeAuthenticator.Party {
        .init(node: node, nonce: nonce, binding: binding, hello: hello)
    }
}

/// The state machine under test, and a reference model of the protocol (the doc comments of
/// HandshakeStateMachine, HandshakeHello and HandshakeMessages) that says what each answer must be.
struct HandshakeOracle {
    enum Phase {
        case fresh
        case awaitingHello
        case awaitingAuth(HandshakeHello, ByteBuffer)
        case established
        case failed
    }

    var machine = Local.machine()
    var phase = Phase.fresh
    /// The MAC the peer must send (known once its hello is accepted).
    var expectedPeerTag: [UInt8] = []

    var isEstablished: Bool {
        if case .established = phase { return true }
        return false
    }

    mutating func receive(_ frame: ClusterFrame) {
        var actions = machine.received(frame)
        trace("handshake: received \(describe(frame)) \(hex(frame.payload)) -> \(summary(actions))")
        if case .fresh = phase {
            // The first frame starts the handshake: our hello goes out first.
            guard actions.first == .send(ClusterFrame(kind: .hello, payload: Local.hello)) else {
                finding("the first answer \(actions) does not start with our hello")
            }
            actions.removeFirst()
            phase = .awaitingHello
        }
        switch phase {
        case .fresh:
            finding("unreachable")
        case .established, .failed:
            guard actions.isEmpty else { finding("\(actions) after the handshake ended") }
        case .awaitingHello:
            switch frame.kind {
            case .hello: expectHelloAnswer(frame, actions)
            case .auth: expectFailure(.authBeforeHello, actions)
            case .reject: expectPeerRejection(frame, actions)
            default: expectFailure(.unexpectedFrame(frame.kind), actions)
            }
        case .awaitingAuth(let hello, _):
            switch frame.kind {
            case .hello: expectFailure(.duplicateHello, actions)
            case .auth: expectAuthAnswer(frame, hello, actions)
            case .reject: expectPeerRejection(frame, actions)
            default: expectFailure(.unexpectedFrame(frame.kind), actions)
            }
        }
        guard machine.isEstablished == isEstablished else {
            finding("isEstablished is \(machine.isEstablished) in phase \(phase)")
        }
    }

    mutating func expectHelloAnswer(_ frame: ClusterFrame, _ actions: [HandshakeAction]) {
        if frame.compressed { return expectFailure(.malformed(.hello), actions) }
        let hello: HandshakeHello
        do {
            hello = try HandshakeHello.decode(frame.payload)
        } catch {
            return expectFailure(error, actions)
        }
        checkHelloEncoding(hello, frame.payload)
        if hello.node == Local.node || hello.nonce == Local.nonce { return expectFailure(.selfConnection, actions) }
        let peer = HandshakeAuthenticator.Party(
            node: hello.node, nonce: hello.nonce, binding: Local.peerBinding, hello: frame.payload)
        let ourTag = HandshakeAuthenticator.tag(cookie: Local.cookie, sender: Local.party, receiver: peer)
        guard actions == [.send(ClusterFrame(kind: .auth, payload: ByteBuffer(bytes: ourTag)))] else {
            finding("answer to an acceptable hello is \(actions), expected our auth \(hex(ourTag))")
        }
        expectedPeerTag = HandshakeAuthenticator.tag(cookie: Local.cookie, sender: peer, receiver: Local.party)
        phase = .awaitingAuth(hello, frame.payload)
    }

    mutating func expectAuthAnswer(_ frame: ClusterFrame, _ hello: HandshakeHello, _ actions: [HandshakeAction]) {
        guard !frame.compressed, frame.payload.readableBytes == HandshakeAuth.tagSize else {
            return expectFailure(.malformed(.auth), actions)
        }
        guard Array(frame.payload.readableBytesView) == expectedPeerTag else {
            return expectFailure(.wrongCookie, actions)
        }
        let peer = HandshakePeer(
            node: hello.node, listen: hello.listen, role: hello.role, weight: hello.weight,
            features: hello.features.intersection(Local.configuration.features))
        guard actions == [.established(peer)] else { finding("the correct MAC gave \(actions), expected \(peer)") }
        phase = .established
    }

    mutating func expectPeerRejection(_ frame: ClusterFrame, _ actions: [HandshakeAction]) {
        phase = .failed
        guard !frame.compressed, let reject = try? HandshakeReject.decode(frame.payload) else {
            guard actions == [.fail(.malformed(.reject))] else { finding("a malformed reject gave \(actions)") }
            return
        }
        guard actions == [.fail(.peerRejected(code: reject.code, reason: reject.reason))] else {
            finding("reject \(reject) gave \(actions)")
        }
        // The reason is safe to log: no control characters, and at most maxReasonBytes of UTF-8 even after invalid
        // bytes became U+FFFD (3 bytes each). Fuzz/crashes-cluster/handshake-reject-reason-over-256-bytes.
        guard !reject.reason.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            finding("reject reason \(reject.reason.debugDescription) has control characters")
        }
        guard reject.reason.utf8.count <= HandshakeReject.maxReasonBytes else {
            finding("reject reason surfaced with \(reject.reason.utf8.count) UTF-8 bytes, maxReasonBytes is 256")
        }
        // A reason made only of printable ASCII arrives unchanged (cut to maxReasonBytes).
        var payload = frame.payload
        payload.moveReaderIndex(forwardBy: 3)
        let text = Array(payload.readableBytesView)
        if text.allSatisfy({ (0x20...0x7E).contains($0) }) {
            guard Array(reject.reason.utf8) == Array(text.prefix(HandshakeReject.maxReasonBytes)) else {
                finding("printable reject reason changed: \(hex(text)) -> \(reject.reason.debugDescription)")
            }
        }
    }

    /// We send a reject carrying `failure`'s code and description, then fail.
    mutating func expectFailure(_ failure: HandshakeFailure, _ actions: [HandshakeAction]) {
        phase = .failed
        let reject = HandshakeReject(code: failure.rejectCode, reason: failure.description)
        guard actions == [.send(ClusterFrame(kind: .reject, payload: reject.encoded)), .fail(failure)] else {
            finding("expected a reject for \(failure), got \(actions)")
        }
        guard let sent = try? HandshakeReject.decode(reject.encoded), sent.code == failure.rejectCode else {
            finding("our reject for \(failure) does not decode")
        }
    }

    /// The timer fires: the handshake fails unless it already ended.
    mutating func timeOut() {
        let actions = machine.timedOut()
        switch phase {
        case .established, .failed:
            guard actions.isEmpty else { finding("timedOut after the end gave \(actions)") }
        case .fresh:
            // The oracle only starts through received(_:); a fresh machine fails the same way.
            expectFailure(.timedOut, actions)
        case .awaitingHello, .awaitingAuth:
            expectFailure(.timedOut, actions)
        }
    }
}

func summary(_ actions: [HandshakeAction]) -> String {
    actions.map { action in
        switch action {
        case .send(let frame): "send \(frame.kind) (\(frame.payload.readableBytes) bytes)"
        case .established(let peer): "established \(peer.node)"
        case .fail(let failure): "fail: \(failure)"
        }
    }.joined(separator: ", ")
}

/// A decoded hello encodes back to the bytes it came from (without the fields a later minor version appended).
func checkHelloEncoding(_ hello: HandshakeHello, _ payload: ByteBuffer) {
    let encoded = hello.encoded
    let prefix = payload.getSlice(at: payload.readerIndex, length: min(encoded.readableBytes, payload.readableBytes))
    guard prefix == encoded, hello.minor > HandshakeHello.currentMinor || encoded == payload else {
        finding("hello \(hex(payload)) re-encodes to \(hex(encoded))")
    }
}

func fuzzHandshakeStream(_ input: ByteBuffer) {
    var oracle = HandshakeOracle()
    var decoder = ClusterFrameDecoder(maxFrameSize: 4096)
    var buffer = input
    while let frame = try? decoder.decode(buffer: &buffer) {
        oracle.receive(frame)
        // Without the cookie, no input can produce the peer's MAC.
        guard !oracle.isEstablished else { finding("handshake established from fuzz input") }
    }
    oracle.timeOut()
}

func fuzzHello(_ input: ByteBuffer) {
    var input = input
    guard let bit = input.readInteger(as: UInt8.self) else { return }
    let helloFrame = ClusterFrame(kind: .hello, payload: input)
    var oracle = HandshakeOracle()
    oracle.receive(helloFrame)
    guard case .awaitingAuth(let hello, _) = oracle.phase else { return }
    trace("hello: accepted \(hello.node) \(hello.listen) \(hello.role) w\(hello.weight) v\(hello.major).\(hello.minor)")
    let peerParty = HandshakeAuthenticator.Party(
        node: hello.node, nonce: hello.nonce, binding: Local.peerBinding, hello: input)
    let tag = HandshakeAuthenticator.tag(cookie: Local.cookie, sender: peerParty, receiver: Local.party)
    guard tag == oracle.expectedPeerTag else { finding("the oracle's expected MAC is not the peer's MAC") }

    func answer(_ tag: [UInt8], compressed: Bool = false) -> HandshakeOracle {
        var run = oracle
        run.receive(ClusterFrame(kind: .auth, compressed: compressed, payload: ByteBuffer(bytes: tag)))
        return run
    }
    // Anything but the exact MAC, in a plain frame, fails.
    var flipped = tag
    flipped[Int(bit) / 8] ^= 1 << (bit % 8)
    var wrongBinding = peerParty
    wrongBinding.binding = [UInt8](repeating: 0x33, count: 32)
    var otherHello = peerParty
    otherHello.hello = ByteBuffer(bytes: Array(input.readableBytesView) + [0])
    let forgeries: [(String, [UInt8], Bool)] = [
        ("one bit flipped", flipped, false),
        (
            "another cookie",
            HandshakeAuthenticator.tag(cookie: Local.otherCookie, sender: peerParty, receiver: Local.party), false
        ),
        (
            "another certificate",
            HandshakeAuthenticator.tag(cookie: Local.cookie, sender: wrongBinding, receiver: Local.party), false
        ),
        (
            "another hello",
            HandshakeAuthenticator.tag(cookie: Local.cookie, sender: otherHello, receiver: Local.party), false
        ),
        (
            "our own MAC reflected",
            HandshakeAuthenticator.tag(cookie: Local.cookie, sender: Local.party, receiver: peerParty), false
        ),
        ("compressed", tag, true),
    ]
    for (what, forged, compressed) in forgeries {
        let run = answer(forged, compressed: compressed)
        guard case .failed = run.phase else { finding("\(what): the handshake did not fail") }
    }
    // The exact MAC establishes it, and nothing happens after that.
    var established = answer(tag)
    guard established.isEstablished else { finding("the correct MAC did not establish the handshake") }
    established.receive(helloFrame)
    established.timeOut()

    // Two state machines, when the hello is exactly what HandshakeHello writes for its fields.
    guard hello.minor == HandshakeHello.currentMinor else { return }
    let peerConfiguration = HandshakeConfiguration(
        node: hello.node, listen: hello.listen, role: hello.role, weight: hello.weight, features: hello.features,
        cookie: Local.cookie)
    var local = Local.machine()
    var peer = HandshakeStateMachine(
        configuration: peerConfiguration, localBinding: Local.peerBinding, peerBinding: Local.binding,
        nonce: hello.nonce)
    let localHello = ClusterFrame(kind: .hello, payload: Local.hello)
    guard local.start() == [.send(localHello)], peer.start() == [.send(helloFrame)] else {
        finding("a peer configured with the decoded fields sends another hello")
    }
    guard case .send(let authToPeer)? = local.received(helloFrame).first,
        case .send(let authToLocal)? = peer.received(localHello).first
    else { finding("the two machines did not both answer with auth") }
    let expectLocal = HandshakePeer(
        node: hello.node, listen: hello.listen, role: hello.role, weight: hello.weight,
        features: hello.features.intersection(Local.configuration.features))
    let expectPeer = HandshakePeer(
        node: Local.node, listen: Local.configuration.listen, role: Local.configuration.role,
        weight: Local.configuration.weight, features: Local.configuration.features.intersection(hello.features))
    guard local.received(authToLocal) == [.established(expectLocal)],
        peer.received(authToPeer) == [.established(expectPeer)]
    else { finding("two machines with the same cookie did not establish with each other") }
}

// MARK: - Entry point

let targets: [@Sendable (ByteBuffer) -> Void] = [
    fuzzFrames, fuzzLZ4, fuzzBinary, fuzzCall, fuzzReply, fuzzHandshakeStream, fuzzHello,
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let input = ByteBuffer(bytes: UnsafeBufferPointer(start: data + 1, count: size - 1))
    targets[Int(data[0]) % targets.count](input)
    return 0
}
