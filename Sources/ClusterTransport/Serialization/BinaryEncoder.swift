import NIOCore

/// Encodes `Encodable` values into the compact, self-delimiting binary format described at `BinaryTag`.
///
/// The encoder writes in one pass straight into the buffer. Nested containers must therefore be filled before
/// their parent continues (what synthesized and ordinary hand-written `encode(to:)` implementations do);
/// writing into a container after its parent moved on throws `BinaryCodingError.Code.invalidEncoderUse`.
public struct BinaryEncoder {
    /// Passed to every value's `encode(to:)` as `Encoder.userInfo`.
    public var userInfo: [CodingUserInfoKey: Any]

    public init() {
        self.userInfo = [:]
    }

    /// Appends exactly one encoded value to `buffer`. On error the buffer is left as it was.
    public func encode<T: Encodable>(_ value: T, into buffer: inout ByteBuffer) throws {
        if try buffer.writeBinaryPrimitive(value) { return }
        let start = buffer.writerIndex
        let state = BinaryEncoderState(buffer: buffer, userInfo: userInfo)
        buffer = ByteBuffer()  // leaves `state` the only owner, so writes don't copy
        do {
            try state.encodeRoot(value)
            buffer = state.buffer
        } catch {
            buffer = state.buffer
            buffer.moveWriterIndex(to: start)
            throw error
        }
    }
}

/// The mutable state of one `BinaryEncoder.encode` call: the buffer and the stack of open containers.
///
/// A container's header (tag and a one-byte length placeholder) is written when it opens; when it closes the
/// length is filled in, moving the body if the length needs more than one byte.
final class BinaryEncoderState {
    struct Frame {
        /// Identifies the container, so a stale container value can tell it was closed.
        let id: UInt32
        let keyed: Bool
        /// Where the container's tag is (the slot it fills in its parent); -1 for the root.
        let tagOffset: Int
        /// Where the body starts, one byte after the length placeholder.
        let bodyStart: Int
        /// Values written so far (an unkeyed container's `count`).
        var count: Int
        /// Start of the last value handed to a child encoder, so an encoder that wrote nothing gets an empty
        /// container written in its place; -1 when none is pending.
        var pendingSlot: Int
    }

    static let invalidFrameID = UInt32.max

    // Exclusivity is not checked dynamically for these (it costs a quarter of the encoding time): every access
    // is a short leaf access made by this file and the containers, never held across a call into user code.
    @exclusivity(unchecked) var buffer: ByteBuffer
    let userInfo: [CodingUserInfoKey: Any]
    /// frames[0] is the root: the slot of the top-level value. A container at coding depth d is frames[d + 1].
    @exclusivity(unchecked) var frames: [Frame]
    var nextFrameID: UInt32 = 1
    /// A misuse found where the protocol does not allow throwing (container creation); thrown at the end.
    var deferredError: BinaryCodingError?

    init(buffer: ByteBuffer, userInfo: [CodingUserInfoKey: Any]) {
        self.buffer = buffer
        self.userInfo = userInfo
        self.frames = []
        self.frames.reserveCapacity(8)
    }

    func encodeRoot<T: Encodable>(_ value: T) throws {
        frames.append(Frame(id: 0, keyed: false, tagOffset: -1, bodyStart: -1, count: 0, pendingSlot: -1))
        try encodeValue(value, parentIndex: 0, parentID: 0, path: [], key: nil)
        closeFrames(above: 0)
        finishPending(0)
        if let deferredError { throw deferredError }
    }

    // MARK: Values

    /// Encodes one value into the slot at the writer index, whose parent container is frames[parentIndex].
    /// `path` is the parent's coding path; `key` (if any) is the value's key in it.
    @inline(__always)
    func encodeValue<T: Encodable>(
        _ value: T, parentIndex: Int, parentID: UInt32, path: [any CodingKey], key: (any CodingKey)?
    ) throws {
        if try buffer.writeBinaryPrimitive(value) { return }
        try encodeComposite(value, parentIndex: parentIndex, parentID: parentID, path: path, key: key)
    }

    func encodeComposite<T: Encodable>(
        _ value: T, parentIndex: Int, parentID: UInt32, path: [any CodingKey], key: (any CodingKey)?
    ) throws {
        if let optional = value as? any BinaryOptionalCoding {
            try optional.binaryEncode(into: self, parentIndex: parentIndex, parentID: parentID, path: path, key: key)
            return
        }
        let slot = buffer.writerIndex
        frames[parentIndex].pendingSlot = slot
        var childPath = path
        if let key { childPath.append(key) }
        try value.encode(to: BinaryEncoderImpl(state: self, codingPath: childPath, parentID: parentID, slot: slot))
    }

    // MARK: Frames

    /// Makes frames[index] the innermost open container, ready for its next value. Throws if it was closed.
    @inline(__always)
    func prepare(frame index: Int, id: UInt32, path: [any CodingKey]) throws {
        guard index < frames.count, frames[index].id == id else {
            throw deferredError
                ?? BinaryCodingError(.invalidEncoderUse, "container written after its parent moved on", path: path)
        }
        if frames.count > index + 1 { closeFrames(above: index) }
        if frames[index].pendingSlot >= 0 { finishPending(index) }
    }

    /// Prepares the slot at `slot` (a child of frames[parentIndex]) for a single value. Throws unless it is empty.
    func prepareSingleValue(parentIndex: Int, parentID: UInt32, slot: Int, path: [any CodingKey]) throws {
        guard parentIndex < frames.count, frames[parentIndex].id == parentID else {
            throw deferredError
                ?? BinaryCodingError(.invalidEncoderUse, "value written after its parent moved on", path: path)
        }
        if frames.count > parentIndex + 1 { closeFrames(above: parentIndex) }
        guard buffer.writerIndex == slot else {
            throw BinaryCodingError(.invalidEncoderUse, "more than one value encoded into one slot", path: path)
        }
    }

    /// Opens a container in the slot at `slot`, or returns the one already open there (a subclass and its
    /// superclass may both ask the same encoder for a keyed container). Returns `invalidFrameID` on misuse.
    func openContainer(keyed: Bool, parentIndex: Int, parentID: UInt32, slot: Int, path: [any CodingKey]) -> UInt32 {
        guard parentIndex < frames.count, frames[parentIndex].id == parentID else {
            return misuse("container requested after its parent moved on", path: path)
        }
        if frames.count > parentIndex + 1 {
            let child = frames[parentIndex + 1]
            if child.tagOffset == slot && child.keyed == keyed {
                closeFrames(above: parentIndex + 1)
                return child.id
            }
            closeFrames(above: parentIndex)
        }
        guard buffer.writerIndex == slot else {
            return misuse("a second container or value requested for one value", path: path)
        }
        buffer.writeInteger(keyed ? BinaryTag.keyed : BinaryTag.unkeyed)
        buffer.writeInteger(UInt8(0))
        let id = nextFrameID
        nextFrameID &+= 1
        frames.append(Frame(id: id, keyed: keyed, tagOffset: slot, bodyStart: slot + 2, count: 0, pendingSlot: -1))
        return id
    }

    func misuse(_ message: String, path: [any CodingKey]) -> UInt32 {
        if deferredError == nil { deferredError = BinaryCodingError(.invalidEncoderUse, message, path: path) }
        return Self.invalidFrameID
    }

    /// Writes an empty keyed container if the pending child slot of frames[index] is still empty.
    func finishPending(_ index: Int) {
        if buffer.writerIndex == frames[index].pendingSlot {
            buffer.writeInteger(BinaryTag.keyed)
            buffer.writeInteger(UInt8(0))
        }
        frames[index].pendingSlot = -1
    }

    func closeFrames(above index: Int) {
        while frames.count > index + 1 { closeTop() }
    }

    /// Closes the innermost container: fills in its body length.
    func closeTop() {
        let last = frames.count - 1
        if frames[last].pendingSlot >= 0 { finishPending(last) }
        let frame = frames.removeLast()
        let bodyLength = buffer.writerIndex - frame.bodyStart
        if bodyLength < 0x80 {
            buffer.setInteger(UInt8(truncatingIfNeeded: bodyLength), at: frame.bodyStart - 1)
            return
        }
        // The length needs more than the one placeholder byte: move the body up to make room.
        let extra = binaryVarintSize(UInt64(bodyLength)) - 1
        buffer.writeRepeatingByte(0, count: extra)
        // Cannot fail: the source range is readable and the buffer grew to hold the destination.
        _ = try? buffer.copyBytes(at: frame.bodyStart, to: frame.bodyStart + extra, length: bodyLength)
        buffer.setBinaryVarint(UInt64(bodyLength), at: frame.bodyStart - 1)
    }
}

extension ByteBuffer {
    /// Writes `value` if it is of a type with a direct encoding (numbers, Bool, String, `[UInt8]`, `ByteBuffer`,
    /// and `BinaryFastCodable` types, checked last). Returns false, writing nothing, for any other type.
    @inline(__always)
    mutating func writeBinaryPrimitive<T>(_ value: T) throws -> Bool {
        if T.self == Int.self {
            writeBinarySigned(Int64(unsafeBitCast(value, to: Int.self)))
        } else if T.self == String.self {
            writeBinaryString(unsafeBitCast(value, to: String.self), tag: BinaryTag.string)
        } else if T.self == Bool.self {
            writeInteger(unsafeBitCast(value, to: Bool.self) ? BinaryTag.trueValue : BinaryTag.falseValue)
        } else if T.self == Double.self {
            writeInteger(BinaryTag.float64)
            writeInteger(unsafeBitCast(value, to: Double.self).bitPattern, endianness: .little)
        } else if T.self == UInt64.self {
            writeBinaryUnsigned(unsafeBitCast(value, to: UInt64.self))
        } else if T.self == Int64.self {
            writeBinarySigned(unsafeBitCast(value, to: Int64.self))
        } else if T.self == UInt8.self {
            writeBinaryUnsigned(UInt64(unsafeBitCast(value, to: UInt8.self)))
        } else if T.self == UInt32.self {
            writeBinaryUnsigned(UInt64(unsafeBitCast(value, to: UInt32.self)))
        } else if T.self == Int32.self {
            writeBinarySigned(Int64(unsafeBitCast(value, to: Int32.self)))
        } else if T.self == UInt.self {
            writeBinaryUnsigned(UInt64(unsafeBitCast(value, to: UInt.self)))
        } else if T.self == UInt16.self {
            writeBinaryUnsigned(UInt64(unsafeBitCast(value, to: UInt16.self)))
        } else if T.self == Int16.self {
            writeBinarySigned(Int64(unsafeBitCast(value, to: Int16.self)))
        } else if T.self == Int8.self {
            writeBinarySigned(Int64(unsafeBitCast(value, to: Int8.self)))
        } else if T.self == Float.self {
            writeInteger(BinaryTag.float32)
            writeInteger(unsafeBitCast(value, to: Float.self).bitPattern, endianness: .little)
        } else if T.self == [UInt8].self {
            let bytes = unsafeBitCast(value, to: [UInt8].self)
            writeInteger(BinaryTag.bytes)
            writeBinaryVarint(UInt64(bytes.count))
            writeBytes(bytes)
        } else if T.self == ByteBuffer.self {
            var bytes = unsafeBitCast(value, to: ByteBuffer.self)
            writeInteger(BinaryTag.bytes)
            writeBinaryVarint(UInt64(bytes.readableBytes))
            writeBuffer(&bytes)
        } else if let fastType = T.self as? any BinaryFastCodable.Type {
            try writeBinaryFastValue(fastType, value)
        } else {
            return false
        }
        return true
    }

    @inline(__always)
    mutating func writeBinarySigned(_ value: Int64) {
        writeBinaryTaggedVarint(BinaryTag.signed, binaryZigZag(value))
    }

    @inline(__always)
    mutating func writeBinaryUnsigned(_ value: UInt64) {
        writeBinaryTaggedVarint(BinaryTag.unsigned, value)
    }

    @inline(__always)
    mutating func writeBinaryTaggedVarint(_ tag: UInt8, _ value: UInt64) {
        if value < 0x80 {
            writeInteger(UInt16(tag) | UInt16(truncatingIfNeeded: value) << 8, endianness: .little)
            return
        }
        writeInteger(tag)
        writeBinaryVarint(value)
    }
}
