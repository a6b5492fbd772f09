import NIOCore
import Testing

@testable import ProxyProtocol

/// The pure codec: round trips, drip-feeding, malformed input, TLVs and what follows the header.
@Suite("PROXY protocol v2 header")
struct ProxyProtocolHeaderTests {
    static func address(_ ip: String, _ port: Int) -> SocketAddress {
        try! SocketAddress(ipAddress: ip, port: port)
    }

    static func encoded(_ source: SocketAddress?, _ destination: SocketAddress?, then trailing: [UInt8] = []) -> [UInt8] {
        var buffer = ByteBuffer()
        ProxyProtocolHeader.encode(source: source, destination: destination, into: &buffer)
        buffer.writeBytes(trailing)
        return Array(buffer.readableBytesView)
    }

    static func decode(_ bytes: [UInt8]) throws(ProxyProtocolError) -> (ProxyProtocolHeader?, remaining: [UInt8]) {
        var buffer = ByteBuffer(bytes: bytes)
        let header = try ProxyProtocolHeader.decode(&buffer)
        return (header, Array(buffer.readableBytesView))
    }

    static let signature = ProxyProtocolHeader.signature

    struct RoundTrip: Sendable, CustomTestStringConvertible {
        var name: String
        var source: SocketAddress?
        var destination: SocketAddress?
        var expected: ProxyProtocolHeader
        var size: Int
        var testDescription: String { name }
    }

    static let roundTrips: [RoundTrip] = [
        RoundTrip(
            name: "TCP over IPv4", source: address("192.0.2.7", 56_324), destination: address("198.51.100.1", 1883),
            expected: .init(
                command: .proxy, source: address("192.0.2.7", 56_324), destination: address("198.51.100.1", 1883)),
            size: 28),
        RoundTrip(
            name: "TCP over IPv6", source: address("2001:db8::7", 40_000), destination: address("2001:db8::1", 1883),
            expected: .init(
                command: .proxy, source: address("2001:db8::7", 40_000), destination: address("2001:db8::1", 1883)),
            size: 52),
        RoundTrip(
            name: "mixed families: IPv6 with the IPv4 address mapped", source: address("192.0.2.7", 1),
            destination: address("2001:db8::1", 65_535),
            expected: .init(
                command: .proxy, source: address("::ffff:192.0.2.7", 1), destination: address("2001:db8::1", 65_535)),
            size: 52),
        RoundTrip(name: "LOCAL without addresses", source: nil, destination: nil, expected: .init(command: .local), size: 16),
        RoundTrip(
            name: "LOCAL for a UNIX socket", source: try! SocketAddress(unixDomainSocketPath: "/tmp/s"),
            destination: address("127.0.0.1", 1883), expected: .init(command: .local), size: 16),
    ]

    @Test("encode then decode gives the addresses back", arguments: roundTrips)
    func roundTrip(_ row: RoundTrip) throws {
        let bytes = Self.encoded(row.source, row.destination)
        #expect(bytes.count == row.size)
        let (header, remaining) = try Self.decode(bytes)
        #expect(header == row.expected)
        #expect(remaining.isEmpty)
    }

    @Test("the IPv4 header is byte for byte the spec's layout")
    func exactIPv4Bytes() {
        let bytes = Self.encoded(Self.address("192.168.0.1", 56_324), Self.address("192.168.0.11", 443))
        #expect(bytes == Self.signature + [0x21, 0x11, 0x00, 0x0C, 192, 168, 0, 1, 192, 168, 0, 11, 0xDC, 0x04, 0x01, 0xBB])
        #expect(Self.encoded(nil, nil) == Self.signature + [0x20, 0x00, 0x00, 0x00])
    }

    @Test("split at every byte boundary: nil and nothing consumed until whole; then the header, the rest kept")
    func splitAtEveryBoundary() throws {
        let trailing: [UInt8] = [0x10, 0x0C, 0x00, 0x04]  // the start of an MQTT CONNECT
        for row in Self.roundTrips {
            let bytes = Self.encoded(row.source, row.destination, then: trailing)
            for cut in 0..<row.size {
                var buffer = ByteBuffer(bytes: bytes[..<cut])
                #expect(try ProxyProtocolHeader.decode(&buffer) == nil, "\(row.name) cut \(cut)")
                #expect(buffer.readableBytes == cut, "\(row.name) cut \(cut): nothing consumed")
                buffer.writeBytes(bytes[cut...])
                #expect(try ProxyProtocolHeader.decode(&buffer) == row.expected, "\(row.name) cut \(cut)")
                #expect(Array(buffer.readableBytesView) == trailing, "\(row.name) cut \(cut)")
            }
        }
    }

    struct Malformed: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var error: ProxyProtocolError
        var testDescription: String { name }
    }

    /// Each row holds only the bytes needed to decide, the decisive one last: at most the 16 fixed bytes.
    static let malformed: [Malformed] = [
        Malformed(name: "an MQTT CONNECT instead (first byte)", bytes: [0x10], error: .badSignature),
        Malformed(name: "the NUL of the signature differs", bytes: Array(signature[..<4]) + [0x20], error: .badSignature),
        Malformed(name: "the last signature byte differs", bytes: Array(signature[..<11]) + [0x0D], error: .badSignature),
        Malformed(name: "PROXY protocol v1 text (its P)", bytes: Array("P".utf8), error: .badSignature),
        Malformed(name: "version 1", bytes: signature + [0x11], error: .unsupportedVersion(1)),
        Malformed(name: "version 3", bytes: signature + [0x31], error: .unsupportedVersion(3)),
        Malformed(name: "command 2", bytes: signature + [0x22], error: .unsupportedCommand(2)),
        Malformed(name: "command 15", bytes: signature + [0x2F], error: .unsupportedCommand(15)),
        Malformed(name: "family 4", bytes: signature + [0x21, 0x41], error: .unsupportedFamily(0x41)),
        Malformed(name: "transport 3", bytes: signature + [0x21, 0x13], error: .unsupportedFamily(0x13)),
        Malformed(name: "IPv4 with 11 address bytes", bytes: signature + [0x21, 0x11, 0, 11],
                  error: .lengthTooShort(family: 0x11, length: 11)),
        Malformed(name: "IPv6 with 35 address bytes", bytes: signature + [0x21, 0x21, 0, 35],
                  error: .lengthTooShort(family: 0x21, length: 35)),
        Malformed(name: "length 1025, over the cap", bytes: signature + [0x21, 0x11, 0x04, 0x01],
                  error: .lengthOverLimit(length: 1025, limit: 1024)),
        Malformed(name: "length 65535", bytes: signature + [0x20, 0x00, 0xFF, 0xFF],
                  error: .lengthOverLimit(length: 65_535, limit: 1024)),
    ]

    @Test("malformed input is refused as soon as it is decidable", arguments: malformed)
    func refused(_ row: Malformed) {
        #expect(throws: row.error) { _ = try Self.decode(row.bytes) }
        // One byte less is not yet decidable, except where the decisive byte is the only one.
        if row.bytes.count > 1 {
            #expect((try? Self.decode(Array(row.bytes.dropLast())).0) == nil)
            #expect(throws: Never.self) { _ = try Self.decode(Array(row.bytes.dropLast())) }
        }
    }

    @Test("a custom cap is honoured")
    func customCap() {
        var buffer = ByteBuffer(bytes: Self.signature + [0x21, 0x11, 0x00, 0x40])
        #expect(throws: ProxyProtocolError.lengthOverLimit(length: 64, limit: 32)) {
            _ = try ProxyProtocolHeader.decode(&buffer, maximumLength: 32)
        }
    }

    struct Accepted: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var expected: ProxyProtocolHeader
        var testDescription: String { name }
    }

    static let accepted: [Accepted] = [
        Accepted(
            name: "LOCAL with an IPv4 block: skipped, no address", bytes: signature + [0x20, 0x11, 0, 12] + Array(repeating: 9, count: 12),
            expected: .init(command: .local)),
        Accepted(name: "LOCAL with an undefined family: ignored", bytes: signature + [0x20, 0x77, 0, 0], expected: .init(command: .local)),
        Accepted(name: "PROXY UNSPEC", bytes: signature + [0x21, 0x00, 0, 0], expected: .init(command: .proxy)),
        Accepted(
            name: "PROXY UDP over IPv4: no address read", bytes: signature + [0x21, 0x12, 0, 12] + Array(repeating: 1, count: 12),
            expected: .init(command: .proxy)),
        Accepted(
            name: "PROXY UNIX stream: 216 bytes skipped", bytes: signature + [0x21, 0x31, 0, 216] + Array(repeating: 0x2F, count: 216),
            expected: .init(command: .proxy)),
    ]

    @Test("headers the spec allows without addresses are accepted and fully consumed", arguments: accepted)
    func acceptedWithoutAddress(_ row: Accepted) throws {
        let (header, remaining) = try Self.decode(row.bytes + [0xAB])
        #expect(header == row.expected)
        #expect(remaining == [0xAB])
    }

    @Test("TLVs after the addresses are skipped; the bytes after the header are kept")
    func tlvsSkipped() throws {
        let tlvs: [UInt8] = [0x04, 0x00, 0x03, 0, 0, 0] + [0x02, 0x00, 0x04] + Array("host".utf8)
        let addresses: [UInt8] = [10, 0, 0, 1, 10, 0, 0, 2, 0x07, 0x5B, 0x1F, 0x90]
        let after = Array("after the header".utf8)
        let bytes = Self.signature + [0x21, 0x11, 0, UInt8(addresses.count + tlvs.count)] + addresses + tlvs + after
        let (header, remaining) = try Self.decode(bytes)
        #expect(header == ProxyProtocolHeader(
            command: .proxy, source: Self.address("10.0.0.1", 1883), destination: Self.address("10.0.0.2", 8080)))
        #expect(remaining == after)
    }

    @Test("the instance encoder writes LOCAL, PROXY UNSPEC and PROXY with addresses")
    func instanceEncode() throws {
        let full = ProxyProtocolHeader(
            command: .proxy, source: Self.address("192.0.2.1", 5), destination: Self.address("192.0.2.2", 6))
        for header in [ProxyProtocolHeader(command: .local), ProxyProtocolHeader(command: .proxy), full] {
            var buffer = ByteBuffer()
            header.encode(into: &buffer)
            #expect(try ProxyProtocolHeader.decode(&buffer) == header)
            #expect(buffer.readableBytes == 0)
        }
    }
}
