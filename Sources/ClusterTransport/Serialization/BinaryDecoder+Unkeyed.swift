import NIOCore

struct BinaryUnkeyedDecodingContainer: UnkeyedDecodingContainer {
    let state: BinaryDecoderState
    let codingPath: [any CodingKey]
    let body: Int
    let end: Int
    /// Start of the next element.
    var position: Int
    private(set) var currentIndex: Int = 0

    init(state: BinaryDecoderState, codingPath: [any CodingKey], body: Int, end: Int) {
        self.state = state
        self.codingPath = codingPath
        self.body = body
        self.end = end
        self.position = body
    }

    /// The number of elements, found by skipping over them (containers are skipped in O(1)); nil if the body
    /// does not consist of whole values.
    var count: Int? {
        var count = 0
        var position = body
        while position < end {
            guard let next = try? state.reader.valueEnd(at: position, limit: end) else { return nil }
            position = next
            count += 1
        }
        return count
    }

    var isAtEnd: Bool { position >= end }

    /// The range of the next element. Does not advance.
    @inline(__always)
    private func next() throws -> (start: Int, end: Int) {
        guard position < end else {
            throw BinaryCodingError(
                .malformed, "unkeyed container has no more elements", path: codingPath, key: BinaryIndexKey(currentIndex))
        }
        do {
            return (position, try state.reader.valueEnd(at: position, limit: end))
        } catch let error as BinaryCodingError {
            throw BinaryCodingError(
                .malformed, "unkeyed container: \(error.message)", path: codingPath, key: BinaryIndexKey(currentIndex))
        }
    }

    @inline(__always)
    private mutating func get<T: Decodable>(_ type: T.Type) throws -> T {
        let range = try next()
        let value: T
        if let primitive = try state.reader.decodePrimitive(
            type, start: range.start, end: range.end, path: codingPath, key: BinaryIndexKey(currentIndex))
        {
            value = primitive
        } else {
            value = try state.decodeComposite(
                type, start: range.start, end: range.end, path: codingPath, key: BinaryIndexKey(currentIndex))
        }
        position = range.end
        currentIndex += 1
        return value
    }

    mutating func decodeNil() throws -> Bool {
        let range = try next()
        guard state.tag(at: range.start) == BinaryTag.null else { return false }
        position = range.end
        currentIndex += 1
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try get(type) }
    mutating func decode(_ type: String.Type) throws -> String { try get(type) }
    mutating func decode(_ type: Double.Type) throws -> Double { try get(type) }
    mutating func decode(_ type: Float.Type) throws -> Float { try get(type) }
    mutating func decode(_ type: Int.Type) throws -> Int { try get(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try get(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try get(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try get(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try get(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try get(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try get(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try get(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try get(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try get(type) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try get(type) }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws -> KeyedDecodingContainer<NestedKey> {
        let range = try next()
        let key = BinaryIndexKey(currentIndex)
        let (body, bodyEnd) = try state.containerBody(
            keyed: true, start: range.start, end: range.end, path: codingPath, key: key)
        let container = try BinaryKeyedDecodingContainer<NestedKey>(
            state: state, codingPath: codingPath + [key], body: body, end: bodyEnd)
        position = range.end
        currentIndex += 1
        return KeyedDecodingContainer(container)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let range = try next()
        let key = BinaryIndexKey(currentIndex)
        let (body, bodyEnd) = try state.containerBody(
            keyed: false, start: range.start, end: range.end, path: codingPath, key: key)
        position = range.end
        currentIndex += 1
        return BinaryUnkeyedDecodingContainer(state: state, codingPath: codingPath + [key], body: body, end: bodyEnd)
    }

    mutating func superDecoder() throws -> any Decoder {
        let range = try next()
        let key = BinaryIndexKey(currentIndex)
        position = range.end
        currentIndex += 1
        return BinaryDecoderImpl(state: state, codingPath: codingPath + [key], start: range.start, end: range.end)
    }
}

struct BinarySingleValueDecodingContainer: SingleValueDecodingContainer {
    let decoder: BinaryDecoderImpl
    var codingPath: [any CodingKey] { decoder.codingPath }

    @inline(__always)
    private func get<T: Decodable>(_ type: T.Type) throws -> T {
        try decoder.state.decodeValue(type, start: decoder.start, end: decoder.end, path: decoder.codingPath, key: nil)
    }

    func decodeNil() -> Bool { decoder.state.tag(at: decoder.start) == BinaryTag.null }

    func decode(_ type: Bool.Type) throws -> Bool { try get(type) }
    func decode(_ type: String.Type) throws -> String { try get(type) }
    func decode(_ type: Double.Type) throws -> Double { try get(type) }
    func decode(_ type: Float.Type) throws -> Float { try get(type) }
    func decode(_ type: Int.Type) throws -> Int { try get(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try get(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try get(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try get(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try get(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try get(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try get(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try get(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try get(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try get(type) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try get(type) }
}
