import NIOCore

/// The type tags of the binary format. Every value is one tag byte followed by its payload:
///
/// | tag | value | payload |
/// | --- | --- | --- |
/// | 0x00 | nil | none |
/// | 0x01 / 0x02 | false / true | none |
/// | 0x03 | unsigned integer | LEB128 varint |
/// | 0x04 | signed integer | zig-zag LEB128 varint |
/// | 0x05 / 0x06 | Float / Double | 4 / 8 bytes, little endian IEEE 754 |
/// | 0x07 | string | varint byte count, UTF-8 bytes |
/// | 0x08 | bytes (`[UInt8]`, `ByteBuffer`, a `BinaryFastCodable` value) | varint byte count, bytes |
/// | 0x09 | unkeyed container | varint byte count, then values |
/// | 0x0A | keyed container | varint byte count, then entries: varint key length, UTF-8 key, value |
/// | 0x0B | "some" marker | one value (marks `.some` of an optional whose wrapped type is optional too) |
///
/// Every value is therefore skippable without knowing its Swift type, and a container is skipped in O(1).
enum BinaryTag {
    static let null: UInt8 = 0x00
    static let falseValue: UInt8 = 0x01
    static let trueValue: UInt8 = 0x02
    static let unsigned: UInt8 = 0x03
    static let signed: UInt8 = 0x04
    static let float32: UInt8 = 0x05
    static let float64: UInt8 = 0x06
    static let string: UInt8 = 0x07
    static let bytes: UInt8 = 0x08
    static let unkeyed: UInt8 = 0x09
    static let keyed: UInt8 = 0x0A
    static let some: UInt8 = 0x0B

    static func name(_ tag: UInt8) -> String {
        switch tag {
        case null: "nil"
        case falseValue, trueValue: "Bool"
        case unsigned: "unsigned integer"
        case signed: "signed integer"
        case float32: "Float"
        case float64: "Double"
        case string: "String"
        case bytes: "bytes"
        case unkeyed: "unkeyed container"
        case keyed: "keyed container"
        case some: "optional marker"
        default: "tag \(tag)"
        }
    }
}

/// Number of bytes LEB128 needs for `value`.
@inline(__always)
func binaryVarintSize(_ value: UInt64) -> Int {
    // 1 + floor(bitWidth / 7), with 0 taking one byte.
    let bits = 64 - (value | 1).leadingZeroBitCount
    return (bits + 6) / 7
}

@inline(__always)
func binaryZigZag(_ value: Int64) -> UInt64 {
    UInt64(bitPattern: (value << 1) ^ (value >> 63))
}

@inline(__always)
func binaryUnZigZag(_ value: UInt64) -> Int64 {
    Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1)
}

extension ByteBuffer {
    /// Writes `value` as an LEB128 varint.
    @inline(__always)
    mutating func writeBinaryVarint(_ value: UInt64) {
        if value < 0x80 {
            self.writeInteger(UInt8(truncatingIfNeeded: value))
            return
        }
        self.writeWithUnsafeMutableBytes(minimumWritableBytes: 10) { raw in
            var v = value
            var index = 0
            while v >= 0x80 {
                raw[index] = UInt8(truncatingIfNeeded: v) | 0x80
                v >>= 7
                index += 1
            }
            raw[index] = UInt8(truncatingIfNeeded: v)
            return index + 1
        }
    }

    /// Writes `value` as an LEB128 varint at `index` without moving the writer index.
    mutating func setBinaryVarint(_ value: UInt64, at index: Int) {
        var v = value
        var i = index
        while v >= 0x80 {
            self.setInteger(UInt8(truncatingIfNeeded: v) | 0x80, at: i)
            v >>= 7
            i += 1
        }
        self.setInteger(UInt8(truncatingIfNeeded: v), at: i)
    }

    /// Writes a tag followed by a length-prefixed run of UTF-8 bytes.
    @inline(__always)
    mutating func writeBinaryString(_ string: String, tag: UInt8) {
        self.writeInteger(tag)
        self.writeBinaryStringPayload(string)
    }

    /// Writes a length-prefixed run of UTF-8 bytes (a key, or a string's payload).
    @inline(__always)
    mutating func writeBinaryStringPayload(_ string: String) {
        let count = string.utf8.count
        self.writeBinaryVarint(UInt64(count))
        if count > 0 { self.writeString(string) }
    }
}

/// Read access to the encoded bytes with bounds checks. Positions are indices into `bytes`, whose reader index is 0.
struct BinaryReader {
    let bytes: ByteBuffer

    @inline(__always)
    func byte(at index: Int, limit: Int) throws -> UInt8 {
        guard index < limit, let byte = bytes.getInteger(at: index, as: UInt8.self) else {
            throw BinaryCodingError(.truncated, "unexpected end of data at byte \(index)")
        }
        return byte
    }

    /// Reads an LEB128 varint at `index` (below `limit`), moving `index` past it.
    @inline(__always)
    func varint(at index: inout Int, limit: Int) throws -> UInt64 {
        try bytes.getBinaryVarint(at: &index, limit: limit)
    }

    /// Reads a varint length at `index` and checks that that many bytes follow it below `limit`.
    /// Returns the payload's start; `index` is unchanged.
    @inline(__always)
    func lengthPrefixed(at index: Int, limit: Int) throws -> (start: Int, end: Int) {
        var position = index
        let length = try varint(at: &position, limit: limit)
        guard length <= UInt64(limit - position) else {
            throw BinaryCodingError(.truncated, "length \(length) at byte \(index) runs past the end of its container")
        }
        return (position, position + Int(length))
    }

    /// The end of the value whose tag is at `start`, checking that it lies within `limit`.
    /// This never looks inside containers, so it runs in time independent of the value's size.
    func valueEnd(at start: Int, limit: Int) throws -> Int {
        var position = start
        while true {
            let tag = try byte(at: position, limit: limit)
            position += 1
            switch tag {
            case BinaryTag.null, BinaryTag.falseValue, BinaryTag.trueValue:
                return position
            case BinaryTag.unsigned, BinaryTag.signed:
                _ = try varint(at: &position, limit: limit)
                return position
            case BinaryTag.float32:
                guard limit - position >= 4 else { throw BinaryCodingError(.truncated, "Float runs past the end") }
                return position + 4
            case BinaryTag.float64:
                guard limit - position >= 8 else { throw BinaryCodingError(.truncated, "Double runs past the end") }
                return position + 8
            case BinaryTag.string, BinaryTag.bytes, BinaryTag.unkeyed, BinaryTag.keyed:
                return try lengthPrefixed(at: position, limit: limit).end
            case BinaryTag.some:
                continue
            default:
                throw BinaryCodingError(.invalidTag, "unknown type tag \(tag) at byte \(start)")
            }
        }
    }

    /// Validates the UTF-8 bytes in `start..<end` and returns them as a string.
    func string(from start: Int, to end: Int) throws -> String {
        guard let string = bytes.getValidatedBinaryString(at: start, length: end - start) else {
            throw BinaryCodingError(.invalidUTF8, "string is not valid UTF-8")
        }
        return string
    }

    /// Whether the bytes in `start..<start+count` equal `key`'s UTF-8 bytes.
    @inline(__always)
    func bytesEqual(_ start: Int, _ count: Int, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        guard count == key.count else { return false }
        if count == 0 { return true }
        return bytes.withUnsafeReadableBytes { raw in
            UnsafeRawBufferPointer(rebasing: raw[start..<(start + count)]).elementsEqual(UnsafeRawBufferPointer(key))
        }
    }
}
