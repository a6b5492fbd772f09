/// Lets the coder see through `Optional` without calling its `encode(to:)` / `init(from:)`, and keep
/// `.some(nil)` apart from `nil` for nested optionals: `.some(x)` of an optional whose wrapped type is itself
/// optional is written as the `some` marker followed by `x`; any other `.some(x)` is written as `x`.
protocol BinaryOptionalMarker {
    static var binaryNone: Self { get }
}

extension Optional: BinaryOptionalMarker {
    static var binaryNone: Self { .none }
}

protocol BinaryOptionalCoding {
    func binaryEncode(
        into state: BinaryEncoderState, parentIndex: Int, parentID: UInt32, path: [any CodingKey],
        key: (any CodingKey)?
    ) throws
}

extension Optional: BinaryOptionalCoding where Wrapped: Encodable {
    func binaryEncode(
        into state: BinaryEncoderState, parentIndex: Int, parentID: UInt32, path: [any CodingKey],
        key: (any CodingKey)?
    ) throws {
        switch self {
        case .none:
            state.buffer.writeInteger(BinaryTag.null)
        case .some(let wrapped):
            if Wrapped.self is any BinaryOptionalMarker.Type {
                state.buffer.writeInteger(BinaryTag.some)
            }
            try state.encodeValue(wrapped, parentIndex: parentIndex, parentID: parentID, path: path, key: key)
        }
    }
}

protocol BinaryOptionalDecoding {
    static func binaryDecode(
        from state: BinaryDecoderState, start: Int, end: Int, path: [any CodingKey], key: (any CodingKey)?
    ) throws -> Self
}

extension Optional: BinaryOptionalDecoding where Wrapped: Decodable {
    static func binaryDecode(
        from state: BinaryDecoderState, start: Int, end: Int, path: [any CodingKey], key: (any CodingKey)?
    ) throws -> Self {
        switch state.tag(at: start) {
        case BinaryTag.null:
            return .none
        case BinaryTag.some:
            return .some(try state.decodeValue(Wrapped.self, start: start + 1, end: end, path: path, key: key))
        default:
            return .some(try state.decodeValue(Wrapped.self, start: start, end: end, path: path, key: key))
        }
    }
}
