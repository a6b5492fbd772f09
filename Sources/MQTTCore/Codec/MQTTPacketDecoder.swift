import NIOCore

/// Splits a byte stream into MQTT packets. The declared size is checked against `maximumPacketSize` as soon as the
/// fixed header is readable, before any of the body is buffered.
///
/// As a server the first packet must be CONNECT [MQTT-3.1.0-1]; the decoder then speaks the version that CONNECT
/// announced. As a client it speaks the version it was given.
public struct MQTTPacketDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = MQTTPacket

    public enum Role: Sendable { case server, client }

    public private(set) var version: MQTTProtocolVersion?
    public let role: Role
    public var maximumPacketSize: Int

    public init(role: Role, version: MQTTProtocolVersion? = nil, maximumPacketSize: Int = 268_435_460) {
        self.role = role
        self.version = version
        self.maximumPacketSize = maximumPacketSize
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> MQTTPacket? {
        try decodeNext(&buffer)
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> MQTTPacket? {
        try decodeNext(&buffer)
    }

    /// The typed-throws core, also used directly by the fuzzer and the gateway.
    public mutating func decodeNext(_ buffer: inout ByteBuffer) throws(MQTTProtocolError) -> MQTTPacket? {
        guard let firstByte = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        // Refuse before buffering anything else: an unauthenticated peer must not make us hold a body.
        if role == .server, version == nil, firstByte >> 4 != MQTTPacket.Kind.connect.rawValue {
            throw MQTTProtocolError(.protocolError, "first packet is not CONNECT")
        }
        var header = buffer
        header.moveReaderIndex(forwardBy: 1)
        let remaining: Int?
        do {
            remaining = try header.readVariableByteInteger()
        } catch {
            throw tagged(error)
        }
        guard let remaining else { return nil }
        let headerSize = header.readerIndex - buffer.readerIndex
        guard headerSize + remaining <= maximumPacketSize else {
            throw tagged(MQTTProtocolError(.packetTooLarge, "packet exceeds maximum packet size"))
        }
        guard header.readableBytes >= remaining else { return nil }
        var body = header.readSlice(length: remaining)!
        buffer.moveReaderIndex(to: header.readerIndex)
        let packet: MQTTPacket
        do {
            packet = try MQTTPacket.decode(firstByte: firstByte, body: &body, version: version ?? .v3_1_1)
        } catch {
            throw tagged(error)
        }
        if case .connect(let connect) = packet, version == nil { version = connect.version }
        return packet
    }

    private func tagged(_ error: MQTTProtocolError) -> MQTTProtocolError {
        var error = error
        if error.version == nil { error.version = version }
        return error
    }
}

/// Encodes `MQTTPacket`s for the version the connection speaks. The version is set once CONNECT is known.
public struct MQTTPacketEncoder: MessageToByteEncoder {
    public typealias OutboundIn = MQTTPacket
    public let version: MQTTProtocolVersion

    public init(version: MQTTProtocolVersion) { self.version = version }

    public func encode(data: MQTTPacket, out: inout ByteBuffer) throws {
        data.encode(version: version, into: &out)
    }
}
