import NIOCore

/// The `Encoder` handed to a value's `encode(to:)`: one slot in a parent container (or the top level).
/// Kept within three words so passing it as `any Encoder` does not allocate.
struct BinaryEncoderImpl: Encoder {
    let state: BinaryEncoderState
    let codingPath: [any CodingKey]
    /// The parent frame's id (high 32 bits) and the slot's start (low 32 bits). The parent frame's index is
    /// `codingPath.count`.
    let packed: UInt64

    init(state: BinaryEncoderState, codingPath: [any CodingKey], parentID: UInt32, slot: Int) {
        self.state = state
        self.codingPath = codingPath
        self.packed = UInt64(parentID) << 32 | UInt64(UInt32(truncatingIfNeeded: slot))
    }

    var parentID: UInt32 { UInt32(truncatingIfNeeded: packed >> 32) }
    var slot: Int { Int(UInt32(truncatingIfNeeded: packed)) }
    var userInfo: [CodingUserInfoKey: Any] { state.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let id = state.openContainer(
            keyed: true, parentIndex: codingPath.count, parentID: parentID, slot: slot, path: codingPath)
        return KeyedEncodingContainer(BinaryKeyedEncodingContainer<Key>(state: state, codingPath: codingPath, frameID: id))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let id = state.openContainer(
            keyed: false, parentIndex: codingPath.count, parentID: parentID, slot: slot, path: codingPath)
        return BinaryUnkeyedEncodingContainer(state: state, codingPath: codingPath, frameID: id)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        BinarySingleValueEncodingContainer(encoder: self)
    }
}

struct BinaryKeyedEncodingContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let state: BinaryEncoderState
    let codingPath: [any CodingKey]
    let frameID: UInt32
    var frameIndex: Int { codingPath.count + 1 }

    /// Writes the key of the next entry.
    @inline(__always)
    private func begin(_ key: Key) throws {
        try state.prepare(frame: frameIndex, id: frameID, path: codingPath)
        state.buffer.writeBinaryStringPayload(key.stringValue)
        state.frames[frameIndex].count += 1
    }

    @inline(__always)
    private func put<T: Encodable>(_ value: T, _ key: Key) throws {
        try begin(key)
        try state.encodeValue(value, parentIndex: frameIndex, parentID: frameID, path: codingPath, key: key)
    }

    mutating func encodeNil(forKey key: Key) throws {
        try begin(key)
        state.buffer.writeInteger(BinaryTag.null)
    }

    mutating func encode(_ value: Bool, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: String, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try put(value, key) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try put(value, key) }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        let id = openNested(keyed: true, key)
        return KeyedEncodingContainer(
            BinaryKeyedEncodingContainer<NestedKey>(state: state, codingPath: codingPath + [key], frameID: id))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let id = openNested(keyed: false, key)
        return BinaryUnkeyedEncodingContainer(state: state, codingPath: codingPath + [key], frameID: id)
    }

    private func openNested(keyed: Bool, _ key: Key) -> UInt32 {
        do {
            try begin(key)
        } catch {
            return state.misuse("nested container requested after its parent moved on", path: codingPath)
        }
        return state.openContainer(
            keyed: keyed, parentIndex: frameIndex, parentID: frameID, slot: state.buffer.writerIndex,
            path: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { superEncoder(key: BinarySuperKey()) }

    mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(key: key) }

    private func superEncoder(key: any CodingKey) -> any Encoder {
        do {
            try state.prepare(frame: frameIndex, id: frameID, path: codingPath)
            state.buffer.writeBinaryStringPayload(key.stringValue)
            state.frames[frameIndex].count += 1
        } catch {
            _ = state.misuse("super encoder requested after its container moved on", path: codingPath)
            return BinaryEncoderImpl(
                state: state, codingPath: codingPath + [key], parentID: BinaryEncoderState.invalidFrameID, slot: 0)
        }
        let slot = state.buffer.writerIndex
        state.frames[frameIndex].pendingSlot = slot
        return BinaryEncoderImpl(state: state, codingPath: codingPath + [key], parentID: frameID, slot: slot)
    }
}

struct BinaryUnkeyedEncodingContainer: UnkeyedEncodingContainer {
    let state: BinaryEncoderState
    let codingPath: [any CodingKey]
    let frameID: UInt32
    var frameIndex: Int { codingPath.count + 1 }

    var count: Int {
        let index = frameIndex
        return index < state.frames.count && state.frames[index].id == frameID ? state.frames[index].count : 0
    }

    /// Prepares for the next element and returns its index.
    @inline(__always)
    private func begin() throws -> Int {
        try state.prepare(frame: frameIndex, id: frameID, path: codingPath)
        let index = state.frames[frameIndex].count
        state.frames[frameIndex].count = index + 1
        return index
    }

    @inline(__always)
    private func put<T: Encodable>(_ value: T) throws {
        let index = try begin()
        if try state.buffer.writeBinaryPrimitive(value) { return }
        try state.encodeComposite(
            value, parentIndex: frameIndex, parentID: frameID, path: codingPath, key: BinaryIndexKey(index))
    }

    mutating func encodeNil() throws {
        _ = try begin()
        state.buffer.writeInteger(BinaryTag.null)
    }

    mutating func encode(_ value: Bool) throws { try put(value) }
    mutating func encode(_ value: String) throws { try put(value) }
    mutating func encode(_ value: Double) throws { try put(value) }
    mutating func encode(_ value: Float) throws { try put(value) }
    mutating func encode(_ value: Int) throws { try put(value) }
    mutating func encode(_ value: Int8) throws { try put(value) }
    mutating func encode(_ value: Int16) throws { try put(value) }
    mutating func encode(_ value: Int32) throws { try put(value) }
    mutating func encode(_ value: Int64) throws { try put(value) }
    mutating func encode(_ value: UInt) throws { try put(value) }
    mutating func encode(_ value: UInt8) throws { try put(value) }
    mutating func encode(_ value: UInt16) throws { try put(value) }
    mutating func encode(_ value: UInt32) throws { try put(value) }
    mutating func encode(_ value: UInt64) throws { try put(value) }
    mutating func encode<T: Encodable>(_ value: T) throws { try put(value) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        let (id, path) = openNested(keyed: true)
        return KeyedEncodingContainer(BinaryKeyedEncodingContainer<NestedKey>(state: state, codingPath: path, frameID: id))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let (id, path) = openNested(keyed: false)
        return BinaryUnkeyedEncodingContainer(state: state, codingPath: path, frameID: id)
    }

    private func openNested(keyed: Bool) -> (UInt32, [any CodingKey]) {
        let index: Int
        do {
            index = try begin()
        } catch {
            let id = state.misuse("nested container requested after its parent moved on", path: codingPath)
            return (id, codingPath + [BinaryIndexKey(count)])
        }
        let path = codingPath + [BinaryIndexKey(index)]
        let id = state.openContainer(
            keyed: keyed, parentIndex: frameIndex, parentID: frameID, slot: state.buffer.writerIndex, path: path)
        return (id, path)
    }

    mutating func superEncoder() -> any Encoder {
        let index: Int
        do {
            index = try begin()
        } catch {
            _ = state.misuse("super encoder requested after its container moved on", path: codingPath)
            return BinaryEncoderImpl(
                state: state, codingPath: codingPath + [BinaryIndexKey(count)],
                parentID: BinaryEncoderState.invalidFrameID, slot: 0)
        }
        let slot = state.buffer.writerIndex
        state.frames[frameIndex].pendingSlot = slot
        return BinaryEncoderImpl(
            state: state, codingPath: codingPath + [BinaryIndexKey(index)], parentID: frameID, slot: slot)
    }
}

struct BinarySingleValueEncodingContainer: SingleValueEncodingContainer {
    let encoder: BinaryEncoderImpl
    var codingPath: [any CodingKey] { encoder.codingPath }

    @inline(__always)
    private func begin() throws {
        try encoder.state.prepareSingleValue(
            parentIndex: encoder.codingPath.count, parentID: encoder.parentID, slot: encoder.slot,
            path: encoder.codingPath)
    }

    @inline(__always)
    private func put<T: Encodable>(_ value: T) throws {
        try begin()
        let state = encoder.state
        if try state.buffer.writeBinaryPrimitive(value) { return }
        let path = encoder.codingPath
        try state.encodeComposite(value, parentIndex: path.count, parentID: encoder.parentID, path: path, key: nil)
    }

    mutating func encodeNil() throws {
        try begin()
        encoder.state.buffer.writeInteger(BinaryTag.null)
    }

    mutating func encode(_ value: Bool) throws { try put(value) }
    mutating func encode(_ value: String) throws { try put(value) }
    mutating func encode(_ value: Double) throws { try put(value) }
    mutating func encode(_ value: Float) throws { try put(value) }
    mutating func encode(_ value: Int) throws { try put(value) }
    mutating func encode(_ value: Int8) throws { try put(value) }
    mutating func encode(_ value: Int16) throws { try put(value) }
    mutating func encode(_ value: Int32) throws { try put(value) }
    mutating func encode(_ value: Int64) throws { try put(value) }
    mutating func encode(_ value: UInt) throws { try put(value) }
    mutating func encode(_ value: UInt8) throws { try put(value) }
    mutating func encode(_ value: UInt16) throws { try put(value) }
    mutating func encode(_ value: UInt32) throws { try put(value) }
    mutating func encode(_ value: UInt64) throws { try put(value) }
    mutating func encode<T: Encodable>(_ value: T) throws { try put(value) }
}
