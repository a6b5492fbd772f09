import NIOCore

/// The few frames the gateway writes to a WebSocket client itself (RFC 6455 section 5.2; a server's frames are
/// never masked): the CONNACK refusing a client, and the close frame. Everything else comes from the node.
enum WebSocketServerFrame {
    /// A single, final binary frame carrying `payload`.
    static func binary(_ payload: ByteBuffer) -> ByteBuffer {
        var frame = ByteBuffer()
        frame.writeInteger(UInt8(0x82))
        let length = payload.readableBytes
        switch length {
        case ..<126:
            frame.writeInteger(UInt8(length))
        case ..<65_536:
            frame.writeInteger(UInt8(126))
            frame.writeInteger(UInt16(length))
        default:
            frame.writeInteger(UInt8(127))
            frame.writeInteger(UInt64(length))
        }
        frame.writeImmutableBuffer(payload)
        return frame
    }

    /// A close frame with `code` and no reason text.
    static func close(code: UInt16) -> ByteBuffer {
        var frame = ByteBuffer()
        frame.writeInteger(UInt8(0x88))
        frame.writeInteger(UInt8(2))
        frame.writeInteger(code)
        return frame
    }
}
