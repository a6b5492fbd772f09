import NIOCore

/// Decodes `Decodable` values from the binary format `BinaryEncoder` writes (see `BinaryTag`).
///
/// Safe on untrusted bytes: every read is bounds-checked, lengths are checked against the bytes actually there
/// before anything is allocated, nesting is limited by `maxDepth`, and malformed input throws
/// `BinaryCodingError`. Keyed containers accept their keys in any order and ignore unknown keys.
public struct BinaryDecoder {
    /// Passed to every value's `init(from:)` as `Decoder.userInfo` (for example `[.actorSystemKey: system]`).
    public var userInfo: [CodingUserInfoKey: Any]
    /// The deepest nesting of containers accepted; deeper input throws `depthLimitExceeded`.
    public var maxDepth: Int

    public init() {
        self.userInfo = [:]
        self.maxDepth = 64
    }

    /// Reads exactly one value from the reader index of `buffer` and advances past it.
    /// On error the reader index is unchanged.
    public func decode<T: Decodable>(_ type: T.Type, from buffer: inout ByteBuffer) throws -> T {
        let bytes = buffer.getSlice(at: buffer.readerIndex, length: buffer.readableBytes) ?? ByteBuffer()
        let reader = BinaryReader(bytes: bytes)
        let end = try reader.valueEnd(at: 0, limit: bytes.readableBytes)
        if let value = try reader.decodePrimitive(type, start: 0, end: end, path: [], key: nil) {
            buffer.moveReaderIndex(forwardBy: end)
            return value
        }
        let state = BinaryDecoderState(reader: reader, userInfo: userInfo, maxDepth: maxDepth)
        let value = try state.decodeValue(type, start: 0, end: end, path: [], key: nil)
        buffer.moveReaderIndex(forwardBy: end)
        return value
    }
}

/// The state of one `BinaryDecoder.decode` call. Positions are indices into `reader.bytes`.
final class BinaryDecoderState {
    /// Keyed containers' indexes share one array. A container's run starts with a header entry
    /// (`keyStart` = the container's serial, `keyLength` = where the next lookup starts, `valueEnd` = count),
    /// followed by one entry per key. Runs made while decoding a value are dropped when that value is done.
    struct KeyEntry {
        var keyStart: Int
        var keyLength: Int
        var valueEnd: Int
        var valueStart: Int { keyStart + keyLength }
    }

    let reader: BinaryReader
    let userInfo: [CodingUserInfoKey: Any]
    let maxDepth: Int
    // Not checked dynamically (see `BinaryEncoderState.buffer`): only short leaf accesses from this module.
    @exclusivity(unchecked) var keyEntries: [KeyEntry] = []
    /// Name-to-entry dictionaries for large keyed containers read out of order, by container serial.
    var keyDictionaries: [Int: [String: Int]] = [:]
    var nextSerial = 1
    /// Values being decoded through their own `init(from:)`, innermost included.
    var depth = 0

    init(reader: BinaryReader, userInfo: [CodingUserInfoKey: Any], maxDepth: Int) {
        self.reader = reader
        self.userInfo = userInfo
        self.maxDepth = maxDepth
    }

    @inline(__always)
    func tag(at position: Int) -> UInt8 { reader.tag(at: position) }

    // MARK: Values

    /// Decodes the value occupying `start..<end`. `path` is the parent's coding path, `key` the value's key in it.
    @inline(__always)
    func decodeValue<T: Decodable>(
        _ type: T.Type, start: Int, end: Int, path: [any CodingKey], key: (any CodingKey)?
    ) throws -> T {
        if let value = try reader.decodePrimitive(type, start: start, end: end, path: path, key: key) { return value }
        return try decodeComposite(type, start: start, end: end, path: path, key: key)
    }

    func decodeComposite<T: Decodable>(
        _ type: T.Type, start: Int, end: Int, path: [any CodingKey], key: (any CodingKey)?
    ) throws -> T {
        if let optional = T.self as? any BinaryOptionalDecoding.Type {
            let value = try optional.binaryDecode(from: self, start: start, end: end, path: path, key: key)
            return value as! T  // the same type: T is this Optional
        }
        var childPath = path
        if let key { childPath.append(key) }
        // Counted separately from the coding path: a value decoded through a single-value container
        // adds no key but still recurses.
        guard depth < maxDepth, childPath.count <= maxDepth else {
            throw BinaryCodingError(.depthLimitExceeded, "nesting deeper than \(maxDepth)", path: childPath)
        }
        let mark = keyEntries.count
        depth += 1
        defer {
            depth -= 1
            if keyEntries.count > mark { keyEntries.removeSubrange(mark...) }
        }
        return try T(from: BinaryDecoderImpl(state: self, codingPath: childPath, start: start, end: end))
    }
}

extension BinaryReader {
    /// The tag of the value at `position` (always within a value range found by `valueEnd`).
    @inline(__always)
    func tag(at position: Int) -> UInt8 {
        bytes.getInteger(at: position, as: UInt8.self) ?? 0xFF
    }

    /// Decodes `T` directly if it is a type with a direct encoding (including a `BinaryFastCodable` type in its fast
    /// form); returns nil (reading nothing) otherwise.
    @inline(__always)
    func decodePrimitive<T>(
        _ type: T.Type, start: Int, end: Int, path: [any CodingKey], key: (any CodingKey)?
    ) throws -> T? {
        func fail(_ error: BinaryCodingError) -> BinaryCodingError {
            BinaryCodingError(error.code, error.message, path: path, key: key)
        }
        do {
            if T.self == Int.self {
                return unsafeBitCast(try integer(Int.self, start, end), to: T.self)
            } else if T.self == String.self {
                return unsafeBitCast(try string(start, end), to: T.self)
            } else if T.self == Bool.self {
                return unsafeBitCast(try bool(start), to: T.self)
            } else if T.self == Double.self {
                return unsafeBitCast(try double(start), to: T.self)
            } else if T.self == UInt64.self {
                return unsafeBitCast(try integer(UInt64.self, start, end), to: T.self)
            } else if T.self == Int64.self {
                return unsafeBitCast(try integer(Int64.self, start, end), to: T.self)
            } else if T.self == UInt8.self {
                return unsafeBitCast(try integer(UInt8.self, start, end), to: T.self)
            } else if T.self == UInt32.self {
                return unsafeBitCast(try integer(UInt32.self, start, end), to: T.self)
            } else if T.self == Int32.self {
                return unsafeBitCast(try integer(Int32.self, start, end), to: T.self)
            } else if T.self == UInt.self {
                return unsafeBitCast(try integer(UInt.self, start, end), to: T.self)
            } else if T.self == UInt16.self {
                return unsafeBitCast(try integer(UInt16.self, start, end), to: T.self)
            } else if T.self == Int16.self {
                return unsafeBitCast(try integer(Int16.self, start, end), to: T.self)
            } else if T.self == Int8.self {
                return unsafeBitCast(try integer(Int8.self, start, end), to: T.self)
            } else if T.self == Float.self {
                return unsafeBitCast(try float(start), to: T.self)
            } else if T.self == [UInt8].self {
                // Also accepts an unkeyed container of numbers (falls through to Array's own decoding).
                guard tag(at: start) == BinaryTag.bytes else { return nil }
                let (from, to) = try lengthPrefixed(at: start + 1, limit: end)
                return unsafeBitCast(bytes.getBytes(at: from, length: to - from) ?? [], to: T.self)
            } else if T.self == ByteBuffer.self {
                // Also accepts ByteBuffer's own base64 string encoding (falls through to its `init(from:)`).
                guard tag(at: start) == BinaryTag.bytes else { return nil }
                let (from, to) = try lengthPrefixed(at: start + 1, limit: end)
                return unsafeBitCast(bytes.getSlice(at: from, length: to - from) ?? ByteBuffer(), to: T.self)
            } else if let fastType = T.self as? any BinaryFastCodable.Type {
                // Also accepts the type's `Codable` form (falls through to its `init(from:)`).
                guard tag(at: start) == BinaryTag.bytes else { return nil }
                let (from, to) = try lengthPrefixed(at: start + 1, limit: end)
                return try decodeFast(fastType, as: T.self, from: from, to: to)
            }
        } catch let error as BinaryCodingError {
            throw fail(error)
        }
        return nil
    }


    private func mismatch(_ expected: String, _ start: Int) -> BinaryCodingError {
        let found = tag(at: start)
        if found == BinaryTag.null {
            return BinaryCodingError(.valueNotFound, "expected \(expected), found nil")
        }
        return BinaryCodingError(.typeMismatch, "expected \(expected), found \(BinaryTag.name(found))")
    }

    @inline(__always)
    func integer<I: FixedWidthInteger>(_ type: I.Type, _ start: Int, _ end: Int) throws -> I {
        var position = start + 1
        switch tag(at: start) {
        case BinaryTag.unsigned:
            let raw = try varint(at: &position, limit: end)
            if let value = I(exactly: raw) { return value }
            throw BinaryCodingError(.valueOutOfRange, "\(raw) does not fit in \(I.self)")
        case BinaryTag.signed:
            let raw = binaryUnZigZag(try varint(at: &position, limit: end))
            if let value = I(exactly: raw) { return value }
            throw BinaryCodingError(.valueOutOfRange, "\(raw) does not fit in \(I.self)")
        default:
            throw mismatch("\(I.self)", start)
        }
    }

    func bool(_ start: Int) throws -> Bool {
        switch tag(at: start) {
        case BinaryTag.trueValue: return true
        case BinaryTag.falseValue: return false
        default: throw mismatch("Bool", start)
        }
    }

    func double(_ start: Int) throws -> Double {
        switch tag(at: start) {
        case BinaryTag.float64:
            guard let bits = bytes.getInteger(at: start + 1, endianness: .little, as: UInt64.self) else {
                throw BinaryCodingError(.truncated, "Double runs past the end")
            }
            return Double(bitPattern: bits)
        case BinaryTag.float32:
            return Double(try float(start))
        default:
            throw mismatch("Double", start)
        }
    }

    func float(_ start: Int) throws -> Float {
        switch tag(at: start) {
        case BinaryTag.float32:
            guard let bits = bytes.getInteger(at: start + 1, endianness: .little, as: UInt32.self) else {
                throw BinaryCodingError(.truncated, "Float runs past the end")
            }
            return Float(bitPattern: bits)
        case BinaryTag.float64:
            let wide = try double(start)
            if wide.isNaN { return Float.nan }
            if let narrow = Float(exactly: wide) { return narrow }
            throw BinaryCodingError(.valueOutOfRange, "\(wide) is not exactly representable as Float")
        default:
            throw mismatch("Float", start)
        }
    }

    func string(_ start: Int, _ end: Int) throws -> String {
        guard tag(at: start) == BinaryTag.string else { throw mismatch("String", start) }
        let (from, to) = try lengthPrefixed(at: start + 1, limit: end)
        return try string(from: from, to: to)
    }
}
