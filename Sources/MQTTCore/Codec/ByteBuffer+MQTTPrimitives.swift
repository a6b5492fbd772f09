import NIOCore

/// The data types of MQTT section 1.5, read with validation and written without intermediate copies.
extension ByteBuffer {
    /// The number of bytes the variable byte integer encoding of `value` takes (1-4).
    static func variableByteIntegerSize(_ value: Int) -> Int {
        switch value {
        case ..<128: 1
        case ..<16_384: 2
        case ..<2_097_152: 3
        default: 4
        }
    }

    /// The largest value a variable byte integer can carry (268,435,455).
    public static let maxVariableByteInteger = 268_435_455

    /// Reads a variable byte integer. Returns nil when more bytes are needed; throws on a 5th continuation byte.
    mutating func readVariableByteInteger() throws(MQTTProtocolError) -> Int? {
        var value = 0
        var multiplier = 1
        var index = readerIndex
        for _ in 0..<4 {
            guard let byte = getInteger(at: index, as: UInt8.self) else { return nil }
            index += 1
            value += Int(byte & 0x7F) * multiplier
            if byte & 0x80 == 0 {
                moveReaderIndex(to: index)
                return value
            }
            multiplier *= 128
        }
        throw .malformed("variable byte integer longer than 4 bytes")
    }

    @discardableResult
    mutating func writeVariableByteInteger(_ value: Int) -> Int {
        precondition(value >= 0 && value <= Self.maxVariableByteInteger, "variable byte integer out of range")
        var remaining = value
        var written = 0
        repeat {
            var byte = UInt8(remaining % 128)
            remaining /= 128
            if remaining > 0 { byte |= 0x80 }
            writeInteger(byte)
            written += 1
        } while remaining > 0
        return written
    }

    mutating func readMQTTByte(_ what: StaticString) throws(MQTTProtocolError) -> UInt8 {
        guard let value = readInteger(as: UInt8.self) else { throw .malformed("truncated \(what)") }
        return value
    }

    mutating func readMQTTUInt16(_ what: StaticString) throws(MQTTProtocolError) -> UInt16 {
        guard let value = readInteger(as: UInt16.self) else { throw .malformed("truncated \(what)") }
        return value
    }

    mutating func readMQTTUInt32(_ what: StaticString) throws(MQTTProtocolError) -> UInt32 {
        guard let value = readInteger(as: UInt32.self) else { throw .malformed("truncated \(what)") }
        return value
    }

    /// Binary Data: a two-byte length and that many bytes.
    mutating func readMQTTBinary(_ what: StaticString) throws(MQTTProtocolError) -> ByteBuffer {
        let length = try readMQTTUInt16(what)
        guard let slice = readSlice(length: Int(length)) else { throw .malformed("truncated \(what)") }
        return slice
    }

    /// UTF-8 Encoded String: well-formed UTF-8 (which excludes surrogates) without U+0000 [MQTT-1.5.4-1..2].
    mutating func readMQTTString(_ what: StaticString) throws(MQTTProtocolError) -> String {
        let length = try readMQTTUInt16(what)
        guard readableBytes >= Int(length) else { throw .malformed("truncated \(what)") }
        let view = readableBytesView.prefix(Int(length))
        if view.contains(0) { throw .malformed("U+0000 in \(what)") }
        guard let string = String(validating: view, as: UTF8.self) else { throw .malformed("invalid UTF-8 in \(what)") }
        moveReaderIndex(forwardBy: Int(length))
        return string
    }

    mutating func writeMQTTString(_ string: String) {
        let count = string.utf8.count
        precondition(count <= 65_535, "MQTT string longer than 65535 bytes")
        writeInteger(UInt16(count))
        writeString(string)
    }

    mutating func writeMQTTBinary(_ data: ByteBuffer) {
        precondition(data.readableBytes <= 65_535, "MQTT binary data longer than 65535 bytes")
        writeInteger(UInt16(data.readableBytes))
        writeImmutableBuffer(data)
    }

    /// Writes what `body` writes, preceded by its length as a variable byte integer, without a scratch buffer:
    /// it reserves four bytes, writes the body, then moves the body back if the length needed fewer.
    @discardableResult
    mutating func writeWithVariableLengthPrefix(_ body: (inout ByteBuffer) -> Void) -> Int {
        let lengthIndex = writerIndex
        writeRepeatingByte(0, count: 4)
        let bodyStart = writerIndex
        body(&self)
        let bodyLength = writerIndex - bodyStart
        let prefixSize = Self.variableByteIntegerSize(bodyLength)
        if prefixSize < 4 {
            let shift = 4 - prefixSize
            let offset = bodyStart - readerIndex
            withUnsafeMutableReadableBytes { raw in
                let base = raw.baseAddress! + offset
                // copyMemory is a memmove: the regions overlap.
                (base - shift).copyMemory(from: base, byteCount: bodyLength)
            }
            moveWriterIndex(to: writerIndex - shift)
        }
        var length = bodyLength
        var index = lengthIndex
        repeat {
            var byte = UInt8(length % 128)
            length /= 128
            if length > 0 { byte |= 0x80 }
            setInteger(byte, at: index)
            index += 1
        } while length > 0
        return bodyLength
    }
}
