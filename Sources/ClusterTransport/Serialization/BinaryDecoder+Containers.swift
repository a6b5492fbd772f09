import NIOCore

/// The `Decoder` handed to a value's `init(from:)`: the value in `start..<end`.
/// Kept within three words so passing it as `any Decoder` does not allocate.
struct BinaryDecoderImpl: Decoder {
    let state: BinaryDecoderState
    let codingPath: [any CodingKey]
    /// The value's start (low 32 bits) and end (high 32 bits); ByteBuffer indices fit in 32 bits.
    let packed: UInt64

    init(state: BinaryDecoderState, codingPath: [any CodingKey], start: Int, end: Int) {
        self.state = state
        self.codingPath = codingPath
        self.packed = UInt64(UInt32(truncatingIfNeeded: end)) << 32 | UInt64(UInt32(truncatingIfNeeded: start))
    }

    var start: Int { Int(UInt32(truncatingIfNeeded: packed)) }
    var end: Int { Int(UInt32(truncatingIfNeeded: packed >> 32)) }
    var userInfo: [CodingUserInfoKey: Any] { state.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        let (bodyStart, bodyEnd) = try state.containerBody(
            keyed: true, start: start, end: end, path: codingPath, key: nil)
        return KeyedDecodingContainer(
            try BinaryKeyedDecodingContainer<Key>(state: state, codingPath: codingPath, body: bodyStart, end: bodyEnd))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (bodyStart, bodyEnd) = try state.containerBody(
            keyed: false, start: start, end: end, path: codingPath, key: nil)
        return BinaryUnkeyedDecodingContainer(state: state, codingPath: codingPath, body: bodyStart, end: bodyEnd)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        BinarySingleValueDecodingContainer(decoder: self)
    }
}

extension BinaryDecoderState {
    /// Checks that the value in `start..<end` is a container of the requested kind (an empty container of the
    /// other kind is accepted too) not nested too deeply, and returns its body.
    func containerBody(
        keyed: Bool, start: Int, end: Int, path: [any CodingKey], key: (any CodingKey)?
    ) throws -> (Int, Int) {
        guard path.count + (key == nil ? 0 : 1) <= maxDepth else {
            throw BinaryCodingError(.depthLimitExceeded, "nesting deeper than \(maxDepth)", path: path, key: key)
        }
        let found = tag(at: start)
        let expected = keyed ? BinaryTag.keyed : BinaryTag.unkeyed
        let other = keyed ? BinaryTag.unkeyed : BinaryTag.keyed
        guard found == expected || found == other else {
            throw BinaryCodingError(
                found == BinaryTag.null ? .valueNotFound : .typeMismatch,
                "expected \(BinaryTag.name(expected)), found \(BinaryTag.name(found))", path: path, key: key)
        }
        let body: (start: Int, end: Int)
        do {
            body = try reader.lengthPrefixed(at: start + 1, limit: end)
        } catch let error as BinaryCodingError {
            throw BinaryCodingError(error.code, error.message, path: path, key: key)
        }
        guard found == expected || body.start == body.end else {
            throw BinaryCodingError(
                .typeMismatch, "expected \(BinaryTag.name(expected)), found \(BinaryTag.name(found))",
                path: path, key: key)
        }
        return body
    }
}

struct BinaryKeyedDecodingContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    typealias Entry = BinaryDecoderState.KeyEntry
    /// Above this many keys, a lookup that misses the expected position builds a dictionary.
    static var dictionaryThreshold: Int { 16 }

    let state: BinaryDecoderState
    let codingPath: [any CodingKey]
    /// Index of this container's header entry in `state.keyEntries`.
    let first: Int
    let serial: Int
    let count: Int

    /// Indexes the entries of the body `body..<end`. Every entry must be a whole key and a whole value.
    init(state: BinaryDecoderState, codingPath: [any CodingKey], body: Int, end: Int) throws {
        self.state = state
        self.codingPath = codingPath
        self.first = state.keyEntries.count
        self.serial = state.nextSerial
        state.nextSerial += 1
        state.keyEntries.append(Entry(keyStart: serial, keyLength: 0, valueEnd: 0))
        var position = body
        var count = 0
        do {
            while position < end {
                let (keyStart, keyEnd) = try state.reader.lengthPrefixed(at: position, limit: end)
                let valueEnd = try state.reader.valueEnd(at: keyEnd, limit: end)
                state.keyEntries.append(Entry(keyStart: keyStart, keyLength: keyEnd - keyStart, valueEnd: valueEnd))
                count += 1
                position = valueEnd
            }
        } catch let error as BinaryCodingError {
            throw BinaryCodingError(.malformed, "keyed container: \(error.message)", path: codingPath)
        }
        self.count = count
        state.keyEntries[first].valueEnd = count
    }

    /// The index in `state.keyEntries` of `key`'s entry, or nil if absent.
    private func find(_ key: Key) throws -> Int? { try find(name: key.stringValue) }

    private func find(name: String) throws -> Int? {
        guard first < state.keyEntries.count, state.keyEntries[first].keyStart == serial else {
            throw BinaryCodingError(.malformed, "keyed container used after its value was decoded", path: codingPath)
        }
        if count == 0 { return nil }
        var name = name
        let hint = state.keyEntries[first].keyLength
        let found: Int? = name.withUTF8 { utf8 in
            var offset = hint
            for attempt in 0..<count {
                let entry = state.keyEntries[first + 1 + offset]
                if state.reader.bytesEqual(entry.keyStart, entry.keyLength, utf8) { return offset }
                if attempt == 1 && count > Self.dictionaryThreshold { return -1 }
                offset += 1
                if offset == count { offset = 0 }
            }
            return nil
        }
        switch found {
        case .none: return nil
        case -1: return try lookUpInDictionary(name)
        case .some(let offset):
            state.keyEntries[first].keyLength = offset
            return first + 1 + offset
        }
    }

    private func lookUpInDictionary(_ name: String) throws -> Int? {
        if let dictionary = state.keyDictionaries[serial] { return dictionary[name] }
        var dictionary: [String: Int] = [:]
        dictionary.reserveCapacity(count)
        for index in (first + 1)...(first + count) {
            let entry = state.keyEntries[index]
            if let key = try? state.reader.string(from: entry.keyStart, to: entry.valueStart), dictionary[key] == nil {
                dictionary[key] = index
            }
        }
        state.keyDictionaries[serial] = dictionary
        return dictionary[name]
    }

    private func entry(_ key: Key) throws -> Entry {
        guard let index = try find(key) else {
            throw BinaryCodingError(.keyNotFound, "no value for key \"\(key.stringValue)\"", path: codingPath)
        }
        return state.keyEntries[index]
    }

    var allKeys: [Key] {
        guard count > 0, first < state.keyEntries.count, state.keyEntries[first].keyStart == serial else { return [] }
        return (first + 1...first + count).compactMap { index in
            let entry = state.keyEntries[index]
            return (try? state.reader.string(from: entry.keyStart, to: entry.valueStart)).flatMap(Key.init(stringValue:))
        }
    }

    func contains(_ key: Key) -> Bool { (try? find(key)) != nil }

    func decodeNil(forKey key: Key) throws -> Bool {
        state.tag(at: try entry(key).valueStart) == BinaryTag.null
    }

    @inline(__always)
    private func get<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T {
        let entry = try entry(key)
        return try state.decodeValue(type, start: entry.valueStart, end: entry.valueEnd, path: codingPath, key: key)
    }

    @inline(__always)
    private func getIfPresent<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T? {
        guard let index = try find(key) else { return nil }
        let entry = state.keyEntries[index]
        if state.tag(at: entry.valueStart) == BinaryTag.null {
            // A present nil for an optional T is `.some(nil)`: keeps nested optionals apart.
            if let optional = T.self as? any BinaryOptionalMarker.Type { return (optional.binaryNone as! T) }
            return nil
        }
        return try state.decodeValue(type, start: entry.valueStart, end: entry.valueEnd, path: codingPath, key: key)
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try get(type, key) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try get(type, key) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try get(type, key) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try get(type, key) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try get(type, key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try get(type, key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try get(type, key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try get(type, key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try get(type, key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try get(type, key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try get(type, key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try get(type, key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try get(type, key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try get(type, key) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try get(type, key) }

    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try getIfPresent(type, key) }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { try getIfPresent(type, key) }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { try getIfPresent(type, key) }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? { try getIfPresent(type, key) }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try getIfPresent(type, key) }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try getIfPresent(type, key) }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try getIfPresent(type, key) }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try getIfPresent(type, key) }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try getIfPresent(type, key) }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try getIfPresent(type, key) }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try getIfPresent(type, key) }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { try getIfPresent(type, key) }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try getIfPresent(type, key) }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try getIfPresent(type, key) }
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? { try getIfPresent(type, key) }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        let entry = try entry(key)
        let (body, end) = try state.containerBody(
            keyed: true, start: entry.valueStart, end: entry.valueEnd, path: codingPath, key: key)
        return KeyedDecodingContainer(
            try BinaryKeyedDecodingContainer<NestedKey>(state: state, codingPath: codingPath + [key], body: body, end: end))
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        let entry = try entry(key)
        let (body, end) = try state.containerBody(
            keyed: false, start: entry.valueStart, end: entry.valueEnd, path: codingPath, key: key)
        return BinaryUnkeyedDecodingContainer(state: state, codingPath: codingPath + [key], body: body, end: end)
    }

    func superDecoder() throws -> any Decoder {
        try superDecoder(key: BinarySuperKey())
    }

    func superDecoder(forKey key: Key) throws -> any Decoder { try superDecoder(key: key) }

    private func superDecoder(key: any CodingKey) throws -> any Decoder {
        guard let index = try find(name: key.stringValue) else {
            throw BinaryCodingError(.keyNotFound, "no value for key \"\(key.stringValue)\"", path: codingPath)
        }
        let entry = state.keyEntries[index]
        return BinaryDecoderImpl(state: state, codingPath: codingPath + [key], start: entry.valueStart, end: entry.valueEnd)
    }
}
