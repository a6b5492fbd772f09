import NIOCore

/// WebSocket frames as a test writes them (masked, as a client must) and reads them (the gateway's, unmasked).
enum WebSocketTestFrames {
    static let continuation: UInt8 = 0x0
    static let text: UInt8 = 0x1
    static let binary: UInt8 = 0x2
    static let close: UInt8 = 0x8
    static let ping: UInt8 = 0x9
    static let pong: UInt8 = 0xA

    /// How the payload length is written.
    enum LengthForm {
        /// The shortest form (7, 16 or 64 bits), as RFC 6455 requires.
        case minimal
        case sixteenBit
        case sixtyFourBit
    }

    /// One client frame: masked with `mask` (nil: unmasked, which a server must refuse).
    static func frame(
        _ opcode: UInt8, fin: Bool = true, _ payload: [UInt8], mask: [UInt8]? = [0x37, 0xFA, 0x21, 0x3D],
        length form: LengthForm = .minimal
    ) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        let maskBit: UInt8 = mask == nil ? 0 : 0x80
        let count = payload.count
        switch form {
        case .minimal where count < 126:
            bytes.append(maskBit | UInt8(count))
        case .minimal where count < 65_536, .sixteenBit:
            bytes += [maskBit | 126, UInt8(count >> 8), UInt8(count & 0xFF)]
        case .minimal, .sixtyFourBit:
            bytes.append(maskBit | 127)
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: count >> shift)) }
        }
        guard let mask else { return bytes + payload }
        return bytes + mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    }

    struct ServerFrame: Equatable {
        var fin: Bool
        var opcode: UInt8
        var payload: [UInt8]
    }

    /// Parses one unmasked server frame from the front of `buffer`; nil when incomplete.
    static func parseServerFrame(_ buffer: inout ByteBuffer) -> ServerFrame? {
        var view = buffer
        guard let first = view.readInteger(as: UInt8.self), let second = view.readInteger(as: UInt8.self) else {
            return nil
        }
        var length = Int(second & 0x7F)
        if length == 126 {
            guard let value = view.readInteger(as: UInt16.self) else { return nil }
            length = Int(value)
        } else if length == 127 {
            guard let value = view.readInteger(as: UInt64.self) else { return nil }
            length = Int(value)
        }
        guard second & 0x80 == 0, let payload = view.readBytes(length: length) else { return nil }
        buffer = view
        return ServerFrame(fin: first & 0x80 != 0, opcode: first & 0x0F, payload: payload)
    }
}
