import NIOCore

/// The `auth` payload: exactly the 32-byte HMAC-SHA256 tag (see `HandshakeAuthenticator`).
struct HandshakeAuth: Sendable, Equatable {
    static let tagSize = 32

    var tag: [UInt8]

    init(tag: [UInt8]) { self.tag = tag }

    var encoded: ByteBuffer { ByteBuffer(bytes: tag) }

    static func decode(_ payload: ByteBuffer) throws(HandshakeFailure) -> HandshakeAuth {
        guard payload.readableBytes == tagSize, let tag = payload.getBytes(at: payload.readerIndex, length: tagSize)
        else { throw .malformed(.auth) }
        return HandshakeAuth(tag: tag)
    }
}

/// The `reject` payload: `u8 code`, `u16 length` + UTF-8 reason text (at most `maxReasonBytes`).
struct HandshakeReject: Sendable, Equatable {
    /// The longest reason we send or surface; longer text from a peer is cut.
    static let maxReasonBytes = 256

    var code: HandshakeRejectCode
    var reason: String

    init(code: HandshakeRejectCode, reason: String) {
        self.code = code
        self.reason = reason
    }

    var encoded: ByteBuffer {
        var text: [UInt8] = []
        for scalar in reason.unicodeScalars {
            let bytes = String(scalar).utf8
            guard text.count + bytes.count <= Self.maxReasonBytes else { break }
            text.append(contentsOf: bytes)
        }
        var buffer = ByteBufferAllocator().buffer(capacity: 3 + text.count)
        buffer.writeInteger(code.rawValue)
        buffer.writeInteger(UInt16(text.count))
        buffer.writeBytes(text)
        return buffer
    }

    /// Decodes a peer's reject. The reason is cut to `maxReasonBytes`, invalid UTF-8 is replaced and control
    /// characters become `?`, so it is safe to log.
    static func decode(_ payload: ByteBuffer) throws(HandshakeFailure) -> HandshakeReject {
        var buffer = payload
        guard let code = buffer.readInteger(as: UInt8.self), let length = buffer.readInteger(as: UInt16.self),
            let text = buffer.readBytes(length: Int(length)), buffer.readableBytes == 0
        else { throw .malformed(.reject) }
        // Replacing invalid bytes (U+FFFD is 3 bytes) can make the text longer, so the cut is made on the result,
        // at a scalar boundary: what is surfaced is at most `maxReasonBytes` of UTF-8, as sent.
        var reason = String.UnicodeScalarView()
        var size = 0
        for scalar in String(decoding: text.prefix(maxReasonBytes), as: UTF8.self).unicodeScalars {
            // Control, format (bidirectional overrides such as U+202E) and line/paragraph separators would let a
            // peer reshape the log line it lands in.
            let unsafe: Set<Unicode.GeneralCategory> = [.control, .format, .lineSeparator, .paragraphSeparator]
            let safe: Unicode.Scalar = unsafe.contains(scalar.properties.generalCategory) ? "?" : scalar
            size += String(safe).utf8.count
            guard size <= maxReasonBytes else { break }
            reason.append(safe)
        }
        return HandshakeReject(code: HandshakeRejectCode(rawValue: code), reason: String(reason))
    }
}
