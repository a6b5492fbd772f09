#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// A PROXY protocol version 2 header (HAProxy's `proxy-protocol.txt`, section 2.2): the binary block a proxy sends
/// first on a connection it relays, carrying the client's address. Pure encode and decode; TLVs are skipped.
///
/// Layout: the 12-byte signature `\r\n\r\n\0\r\nQUIT\n`; a byte `0x2C` with C the command (0 LOCAL, 1 PROXY); a
/// byte `0xFP`, F the family (0 UNSPEC, 1 IPv4, 2 IPv6, 3 UNIX) and P the transport (0 UNSPEC, 1 STREAM, 2 DGRAM);
/// a big-endian UInt16 length of what follows: the addresses (source address, destination address, source port,
/// destination port: 12 bytes for IPv4, 36 for IPv6), then TLVs.
public struct ProxyProtocolHeader: Sendable, Hashable {
    public enum Command: Sendable, Hashable {
        /// A connection the proxy made itself (a health check): the real peer address stands.
        case local
        /// A relayed connection: `source` is the client.
        case proxy
    }

    public var command: Command
    /// The client's address; nil for LOCAL and for families carried without addresses (UNSPEC, UDP, UNIX).
    public var source: SocketAddress?
    /// The address the client connected to; nil whenever `source` is.
    public var destination: SocketAddress?

    public init(command: Command, source: SocketAddress? = nil, destination: SocketAddress? = nil) {
        self.command = command
        self.source = source
        self.destination = destination
    }

    /// The 12-byte v2 signature.
    public static let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    /// Signature, version/command, family and length.
    public static let fixedSize = 16
    /// The default cap on the length field: the decoder buffers at most `fixedSize` + this many bytes.
    public static let defaultMaximumLength = 1024

    static let tcp4: UInt8 = 0x11
    static let tcp6: UInt8 = 0x21
    static let unspecified: UInt8 = 0x00
    /// Family bytes the spec defines that are accepted without reading addresses (UDP, UNIX): its "fall back to
    /// UNSPEC" rule for combinations a receiver does not implement.
    static let carriedWithoutAddresses: Set<UInt8> = [0x00, 0x12, 0x22, 0x31, 0x32]

    // MARK: Encoding

    /// Writes the header for a connection from `source` to `destination`: PROXY over TCP/IPv4 when both are IPv4,
    /// over TCP/IPv6 when both are IP and either is IPv6 (an IPv4 one as `::ffff:a.b.c.d`, since one header has one
    /// family), and LOCAL with no addresses when either is nil or a UNIX socket.
    public static func encode(source: SocketAddress?, destination: SocketAddress?, into buffer: inout ByteBuffer) {
        buffer.writeBytes(signature)
        guard let source, let destination, let sourceBytes = packedAddress(source),
            let destinationBytes = packedAddress(destination), let sourcePort = source.port,
            let destinationPort = destination.port
        else {
            buffer.writeBytes([0x20, unspecified])
            buffer.writeInteger(UInt16(0))
            return
        }
        let asIPv4 = sourceBytes.count == 4 && destinationBytes.count == 4
        buffer.writeBytes([0x21, asIPv4 ? tcp4 : tcp6])
        buffer.writeInteger(UInt16(asIPv4 ? 12 : 36))
        buffer.writeBytes(asIPv4 ? sourceBytes : mappedIPv6(sourceBytes))
        buffer.writeBytes(asIPv4 ? destinationBytes : mappedIPv6(destinationBytes))
        buffer.writeInteger(UInt16(truncatingIfNeeded: sourcePort))
        buffer.writeInteger(UInt16(truncatingIfNeeded: destinationPort))
    }

    /// Writes this header: `encode(source:destination:into:)` for PROXY with addresses, else a LOCAL header or a
    /// PROXY header of family UNSPEC.
    public func encode(into buffer: inout ByteBuffer) {
        if command == .proxy, source == nil || destination == nil {
            buffer.writeBytes(Self.signature)
            buffer.writeBytes([0x21, Self.unspecified])
            buffer.writeInteger(UInt16(0))
        } else {
            Self.encode(
                source: command == .proxy ? source : nil, destination: command == .proxy ? destination : nil,
                into: &buffer)
        }
    }

    /// The address in network byte order: 4 bytes for IPv4, 16 for IPv6; nil for a UNIX socket.
    static func packedAddress(_ address: SocketAddress) -> [UInt8]? {
        switch address {
        case .v4(let ipv4):
            var raw = ipv4.address.sin_addr
            return withUnsafeBytes(of: &raw) { Array($0) }
        case .v6(let ipv6):
            var raw = ipv6.address.sin6_addr
            return withUnsafeBytes(of: &raw) { Array($0) }
        case .unixDomainSocket:
            return nil
        }
    }

    /// An IPv6 address unchanged; an IPv4 one as the IPv4-mapped `::ffff:a.b.c.d`.
    static func mappedIPv6(_ bytes: [UInt8]) -> [UInt8] {
        bytes.count == 16 ? bytes : Array(repeating: 0, count: 10) + [0xFF, 0xFF] + bytes
    }
}
