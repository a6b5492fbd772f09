// libFuzzer harness for MQTTPacketDecoder. Built by Fuzz/run.sh, not by SwiftPM; see docs/fuzzing.md.
//
// Every input is decoded by four decoders (a fresh server, a v5 client, a v3.1.1 client and a server with a small
// maximum packet size). For each one the oracle checks:
//  1. Streaming: the input fed one byte at a time yields exactly what the whole input yields (same packets, then the
//     same error or the same incomplete tail).
//  2. Round trip: every decoded packet re-encodes (with `encodedSize` telling the truth) to bytes that a decoder of
//     the same version reads back as an equal packet with nothing left over, and re-encoding that gives the same
//     bytes again.
//  3. Errors: an `MQTTProtocolError` is the expected way to refuse input. Its response packet (CONNACK, DISCONNECT
//     or nothing) must encode and decode back to itself in the version the error names.
// Anything else (a trap, an address sanitizer report, a broken oracle) is a finding.

import MQTTCore
import NIOCore

struct DecodeResult: Equatable {
    /// Each packet with the version the connection spoke when it was decoded.
    var packets: [(MQTTPacket, MQTTProtocolVersion)] = []
    var error: MQTTProtocolError?
    /// Bytes of an incomplete last packet (only when there was no error).
    var leftover = 0

    static func == (lhs: DecodeResult, rhs: DecodeResult) -> Bool {
        lhs.packets.map(\.0) == rhs.packets.map(\.0) && lhs.packets.map(\.1) == rhs.packets.map(\.1)
            && lhs.error == rhs.error && lhs.leftover == rhs.leftover
    }
}

@inline(never)
func finding(_ message: String) -> Never {
    fatalError("fuzz oracle: \(message)")
}

/// Decodes `chunks` in order with one decoder, stopping at the first error.
func decode(_ chunks: [ByteBuffer], with prototype: MQTTPacketDecoder) -> DecodeResult {
    var decoder = prototype
    var result = DecodeResult()
    var accumulated = ByteBuffer()
    for var chunk in chunks {
        accumulated.writeBuffer(&chunk)
        do {
            while let packet = try decoder.decodeNext(&accumulated) {
                result.packets.append((packet, decoder.version ?? .v3_1_1))
            }
        } catch {
            // How much of the input had arrived when the error was seen differs by chunking; the error may not.
            result.error = error
            return result
        }
    }
    result.leftover = accumulated.readableBytes
    return result
}

/// Encode, decode again, compare.
func checkRoundTrip(_ packet: MQTTPacket, _ version: MQTTProtocolVersion) {
    var first = ByteBuffer()
    packet.encode(version: version, into: &first)
    guard packet.encodedSize(version: version) == first.readableBytes else { finding("encodedSize disagrees") }
    var decoder = MQTTPacketDecoder(role: .client, version: version)
    var input = first
    let again: MQTTPacket?
    do {
        again = try decoder.decodeNext(&input)
    } catch {
        finding("re-encoded \(packet.kind) (\(version)) does not decode: \(error)")
    }
    guard let again else { finding("re-encoded \(packet.kind) (\(version)) is incomplete") }
    guard input.readableBytes == 0 else { finding("re-encoded \(packet.kind) (\(version)) has trailing bytes") }
    guard again == packet else { finding("round trip changed \(packet.kind) (\(version)): \(packet) -> \(again)") }
    var second = ByteBuffer()
    again.encode(version: version, into: &second)
    guard second == first else { finding("encoding \(packet.kind) (\(version)) is not deterministic") }
}

func checkErrorResponse(_ error: MQTTProtocolError) {
    for afterConnect in [false, true] {
        guard let response = error.response(version: error.version, afterConnect: afterConnect) else { continue }
        guard let version = error.version else { finding("a response without a version") }
        checkRoundTrip(response, version)
    }
}

func check(_ input: ByteBuffer, _ prototype: MQTTPacketDecoder) {
    let whole = decode([input], with: prototype)
    var bytes = input
    var drip: [ByteBuffer] = []
    drip.reserveCapacity(bytes.readableBytes)
    while let one = bytes.readSlice(length: 1) { drip.append(one) }
    let dripped = decode(drip, with: prototype)
    guard whole == dripped else {
        finding(
            "byte-at-a-time decoding differs: \(whole.packets.count) vs \(dripped.packets.count) packets, "
                + "\(String(describing: whole.error)) vs \(String(describing: dripped.error))")
    }
    for (packet, version) in whole.packets { checkRoundTrip(packet, version) }
    if let error = whole.error { checkErrorResponse(error) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
    check(input, MQTTPacketDecoder(role: .server))
    check(input, MQTTPacketDecoder(role: .client, version: .v5))
    check(input, MQTTPacketDecoder(role: .client, version: .v3_1_1))
    check(input, MQTTPacketDecoder(role: .server, maximumPacketSize: 64))
    return 0
}
