import NIOCore

/// A type with a hand-written binary form, which `BinaryEncoder` and `BinaryDecoder` use in place of its `Codable`
/// form: a fast path for the values a cluster sends most.
///
/// Wherever the coder meets a conforming value (a top-level value, a container's value or element, an optional's
/// payload), it writes it as one `bytes` value (tag `0x08`, varint length, then the bytes `writeBinary(to:)` wrote).
/// Asked for a conforming type, the decoder hands `init(readingBinary:)` exactly those bytes and requires it to read
/// all of them. A value in the `Codable` form (written before the type conformed, or by a coder without the fast
/// path) is still read through `init(from:)`, so the type's synthesized `Codable` conformance must stay.
///
/// The bytes carry no type identity, just as a keyed container does not: the reader decodes the type it asks for.
/// Implementations validate what they read (and the length rule rejects most accidental matches), but a reader
/// that asks for the wrong type is not guaranteed an error.
///
/// Rules for implementers:
/// - `writeBinary(to:)` only appends (it never moves the reader index or writes before the writer index) and
///   writes at least one byte, so that a count of values can be checked against the bytes left
///   (`ByteBuffer.readFastCount()`).
/// - `init(readingBinary:)` reads what `writeBinary(to:)` wrote, advancing the reader index past it. It must throw
///   (preferably a `BinaryCodingError`), never trap, on any input: bytes end early, lengths or counts beyond the
///   bytes left, unknown tags, values its validating initialisers refuse. It must not allocate by a length or
///   count the bytes declare before checking it against `readableBytes`. The `readFast…` helpers below do so.
/// - Nested values are written with the helpers or a nested type's own `writeBinary(to:)` — not through
///   `BinaryEncoder`, which would wrap them again.
public protocol BinaryFastCodable: Codable {
    /// Appends this value's binary form to `buffer`.
    func writeBinary(to buffer: inout ByteBuffer) throws

    /// Reads a value from the reader index of `buffer` and advances past it. Throws on malformed input.
    init(readingBinary buffer: inout ByteBuffer) throws
}

/// An array of fast values: a varint count, then the elements.
extension Array: BinaryFastCodable where Element: BinaryFastCodable {
    public func writeBinary(to buffer: inout ByteBuffer) throws {
        buffer.writeFastVarint(UInt64(count))
        for element in self { try element.writeBinary(to: &buffer) }
    }

    public init(readingBinary buffer: inout ByteBuffer) throws {
        let count = try buffer.readFastCount()
        var elements: [Element] = []
        // The count is bounded by the bytes, not by the elements' size in memory: reserve a bounded amount.
        elements.reserveCapacity(Swift.min(count, 1024))
        for _ in 0..<count { elements.append(try Element(readingBinary: &buffer)) }
        self = elements
    }
}

// MARK: Helpers for implementers

extension ByteBuffer {
    /// Writes an unsigned LEB128 varint (1 to 10 bytes).
    @inlinable
    public mutating func writeFastVarint(_ value: UInt64) {
        if value < 0x80 {
            self.writeInteger(UInt8(truncatingIfNeeded: value))
        } else {
            self.writeFastVarintSlow(value)
        }
    }

    @usableFromInline
    mutating func writeFastVarintSlow(_ value: UInt64) {
        self.writeBinaryVarint(value)
    }

    /// Reads an unsigned LEB128 varint. Throws on truncation or a varint longer than 64 bits.
    @inlinable
    public mutating func readFastVarint() throws -> UInt64 {
        if let first = self.getInteger(at: self.readerIndex, as: UInt8.self), first < 0x80 {
            self.moveReaderIndex(forwardBy: 1)
            return UInt64(first)
        }
        return try self.readFastVarintSlow()
    }

    @usableFromInline
    mutating func readFastVarintSlow() throws -> UInt64 {
        var index = self.readerIndex
        let value = try self.getBinaryVarint(at: &index, limit: self.writerIndex)
        self.moveReaderIndex(to: index)
        return value
    }

    /// Reads an unsigned varint and checks that it fits `type`; throws `valueOutOfRange` if not.
    @inlinable
    public mutating func readFastVarint<I: FixedWidthInteger & UnsignedInteger>(as type: I.Type) throws -> I {
        let raw = try self.readFastVarint()
        guard let value = I(exactly: raw) else {
            throw BinaryCodingError(.valueOutOfRange, "\(raw) does not fit in \(I.self)")
        }
        return value
    }

    /// Writes a signed integer as a zig-zag LEB128 varint (small magnitudes of either sign take few bytes).
    @inlinable
    public mutating func writeFastZigZag(_ value: Int64) {
        self.writeFastVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    /// Reads a zig-zag varint written by `writeFastZigZag(_:)`.
    @inlinable
    public mutating func readFastZigZag() throws -> Int64 {
        let raw = try self.readFastVarint()
        return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
    }

    /// Reads a zig-zag varint and checks that it fits `type`; throws `valueOutOfRange` if not.
    @inlinable
    public mutating func readFastZigZag<I: FixedWidthInteger & SignedInteger>(as type: I.Type) throws -> I {
        let raw = try self.readFastZigZag()
        guard let value = I(exactly: raw) else {
            throw BinaryCodingError(.valueOutOfRange, "\(raw) does not fit in \(I.self)")
        }
        return value
    }

    /// Reads one byte. Throws `truncated` at the end.
    @inlinable
    public mutating func readFastByte() throws -> UInt8 {
        guard let byte = self.readInteger(as: UInt8.self) else {
            throw BinaryCodingError(.truncated, "unexpected end of data")
        }
        return byte
    }

    /// Writes a Bool as one byte, 0 or 1.
    @inlinable
    public mutating func writeFastBool(_ value: Bool) {
        self.writeInteger(value ? UInt8(1) : UInt8(0))
    }

    /// Reads a Bool written by `writeFastBool(_:)`; any byte other than 0 and 1 throws `malformed`.
    @inlinable
    public mutating func readFastBool() throws -> Bool {
        switch try self.readFastByte() {
        case 0: return false
        case 1: return true
        case let other: throw BinaryCodingError(.malformed, "\(other) is not a Bool")
        }
    }

    /// Reads a varint length and checks that that many bytes are readable (else throws `truncated`).
    @inlinable
    public mutating func readFastLength() throws -> Int {
        let length = try self.readFastVarint()
        guard length <= UInt64(self.readableBytes) else {
            throw BinaryCodingError(.truncated, "length \(length) runs past the end (\(self.readableBytes) bytes left)")
        }
        return Int(length)
    }

    /// Reads the count of a list whose elements take at least one byte each: a varint no larger than the readable
    /// bytes (else throws `truncated`), so a caller may loop over it without trusting the peer.
    @inlinable
    public mutating func readFastCount() throws -> Int {
        let count = try self.readFastVarint()
        guard count <= UInt64(self.readableBytes) else {
            throw BinaryCodingError(.truncated, "count \(count) exceeds the \(self.readableBytes) bytes left")
        }
        return Int(count)
    }

    /// Writes a string as a varint byte count and its UTF-8 bytes.
    @inlinable
    public mutating func writeFastString(_ string: String) {
        let count = string.utf8.count
        self.writeFastVarint(UInt64(count))
        if count > 0 { self.writeString(string) }
    }

    /// Reads a string written by `writeFastString(_:)`. Throws `truncated` or `invalidUTF8`.
    public mutating func readFastString() throws -> String {
        let length = try self.readFastLength()
        if length == 0 { return "" }
        guard let string = self.getValidatedBinaryString(at: self.readerIndex, length: length) else {
            throw BinaryCodingError(.invalidUTF8, "string is not valid UTF-8")
        }
        self.moveReaderIndex(forwardBy: length)
        return string
    }

    /// Writes the readable bytes of `bytes` as a varint count and the bytes.
    @inlinable
    public mutating func writeFastBytes(_ bytes: ByteBuffer) {
        self.writeFastVarint(UInt64(bytes.readableBytes))
        var bytes = bytes
        self.writeBuffer(&bytes)
    }

    /// Reads bytes written by `writeFastBytes(_:)` as a slice of this buffer (no copy). Throws `truncated`.
    @inlinable
    public mutating func readFastBytes() throws -> ByteBuffer {
        let length = try self.readFastLength()
        guard let slice = self.readSlice(length: length) else {
            throw BinaryCodingError(.truncated, "bytes run past the end")
        }
        return slice
    }

    /// Writes whether an optional value follows: one byte, 0 or 1.
    @inlinable
    public mutating func writeFastPresence(_ isPresent: Bool) {
        self.writeFastBool(isPresent)
    }

    /// Reads a presence byte written by `writeFastPresence(_:)`.
    @inlinable
    public mutating func readFastPresence() throws -> Bool {
        try self.readFastBool()
    }

    /// Writes a presence byte, then the wrapped value (if any) with `writeWrapped`.
    @inlinable
    public mutating func writeFastOptional<T>(
        _ value: T?, _ writeWrapped: (inout ByteBuffer, T) throws -> Void
    ) rethrows {
        guard let value else {
            self.writeFastPresence(false)
            return
        }
        self.writeFastPresence(true)
        try writeWrapped(&self, value)
    }

    /// Reads a presence byte, then the wrapped value (if present) with `readWrapped`.
    @inlinable
    public mutating func readFastOptional<T>(_ readWrapped: (inout ByteBuffer) throws -> T) throws -> T? {
        guard try self.readFastPresence() else { return nil }
        return try readWrapped(&self)
    }

    // MARK: Shared with the decoder

    /// Reads an LEB128 varint at `index` (below `limit`), moving `index` past it.
    @inline(__always)
    func getBinaryVarint(at index: inout Int, limit: Int) throws -> UInt64 {
        func byte(_ index: Int) throws -> UInt8 {
            guard index < limit, let byte = self.getInteger(at: index, as: UInt8.self) else {
                throw BinaryCodingError(.truncated, "unexpected end of data at byte \(index)")
            }
            return byte
        }
        let first = try byte(index)
        index += 1
        if first < 0x80 { return UInt64(first) }
        var result = UInt64(first & 0x7F)
        var shift: UInt64 = 7
        while true {
            let next = try byte(index)
            index += 1
            if shift == 63 && next > 1 {
                throw BinaryCodingError(.valueOutOfRange, "varint longer than 64 bits")
            }
            result |= UInt64(next & 0x7F) << shift
            if next < 0x80 { return result }
            shift += 7
        }
    }

    /// The readable bytes `index..<index+length` as a string, or nil if they are not valid UTF-8.
    func getValidatedBinaryString(at index: Int, length: Int) -> String? {
        let offset = index - self.readerIndex
        guard offset >= 0, length >= 0, length <= self.readableBytes - offset else { return nil }
        if length == 0 { return "" }
        return self.withUnsafeReadableBytes { raw in
            let utf8 = UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + length)])
                .assumingMemoryBound(to: UInt8.self)
            // ASCII needs no validation; anything else goes through the standard library's validator.
            if utf8.allSatisfy({ $0 < 0x80 }) { return String(decoding: utf8, as: UTF8.self) }
            return String(validating: utf8, as: UTF8.self)
        }
    }

    // MARK: The coder's hooks

    /// Writes `value` as one `bytes` value holding its fast form. On error nothing is left written.
    mutating func writeBinaryFastValue<F: BinaryFastCodable, T>(_ type: F.Type, _ value: T) throws {
        let start = self.writerIndex
        self.writeInteger(BinaryTag.bytes)
        self.writeInteger(UInt8(0))  // the length, if it fits one byte
        let bodyStart = self.writerIndex
        do {
            // F is T (the caller found T's conformance); the cast only names the conformance.
            try unsafeBitCast(value, to: F.self).writeBinary(to: &self)
        } catch {
            self.moveWriterIndex(to: start)
            throw error
        }
        let length = self.writerIndex - bodyStart
        guard length >= 0, self.readerIndex <= start else {
            self.moveWriterIndex(to: Swift.max(start, self.readerIndex))
            throw BinaryCodingError(.invalidEncoderUse, "\(F.self).writeBinary(to:) moved the buffer's indices back")
        }
        if length < 0x80 {
            self.setInteger(UInt8(truncatingIfNeeded: length), at: bodyStart - 1)
            return
        }
        // The length needs more than one byte: move the body up to make room.
        let extra = binaryVarintSize(UInt64(length)) - 1
        self.writeRepeatingByte(0, count: extra)
        // Cannot fail: the source range is readable and the buffer grew to hold the destination.
        _ = try? self.copyBytes(at: bodyStart, to: bodyStart + extra, length: length)
        self.setBinaryVarint(UInt64(length), at: bodyStart - 1)
    }
}

extension BinaryReader {
    /// Decodes the fast form of `F` (which is `T`) from the bytes `from..<to`, which it must consume entirely.
    func decodeFast<F: BinaryFastCodable, T>(_ type: F.Type, as: T.Type, from: Int, to: Int) throws -> T {
        guard var slice = bytes.getSlice(at: from, length: to - from) else {
            throw BinaryCodingError(.truncated, "bytes run past the end")
        }
        let value = try F(readingBinary: &slice)
        guard slice.readableBytes == 0 else {
            throw BinaryCodingError(.malformed, "\(slice.readableBytes) bytes left over after \(F.self)")
        }
        return unsafeBitCast(value, to: T.self)
    }
}
