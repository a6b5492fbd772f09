/// An error from `BinaryEncoder` or `BinaryDecoder`: what went wrong, where (the coding path), and a short message.
///
/// Errors thrown by a value's own `init(from:)` or `encode(to:)` (for example `DecodingError` from a synthesized
/// enum) pass through unchanged.
public struct BinaryCodingError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: Sendable, Hashable {
        /// The bytes end before the value does.
        case truncated
        /// A type tag this format does not define.
        case invalidTag
        /// The value is of another kind than the one requested (for example a string where an `Int` was asked for).
        case typeMismatch
        /// `nil` where a non-optional value was asked for.
        case valueNotFound
        /// A keyed container has no value for a required key.
        case keyNotFound
        /// A number that does not fit the requested type, or a malformed varint.
        case valueOutOfRange
        /// A string or key that is not valid UTF-8.
        case invalidUTF8
        /// Bytes inside a container that do not form whole values, or an unkeyed container read past its end.
        case malformed
        /// Containers nested deeper than `BinaryDecoder.maxDepth`.
        case depthLimitExceeded
        /// The encoder was used in a way a single-pass encoder cannot follow (for example two values written
        /// into one single-value container, or a container written after its parent moved on).
        case invalidEncoderUse
    }

    public let code: Code
    public let message: String
    /// The coding path at the failure, as the keys' string values (array indices as `"Index N"`).
    public let codingPath: [String]

    public init(_ code: Code, _ message: String, codingPath: [String] = []) {
        self.code = code
        self.message = message
        self.codingPath = codingPath
    }

    init(_ code: Code, _ message: String, path: [any CodingKey], key: (any CodingKey)? = nil) {
        var strings = path.map(\.stringValue)
        if let key { strings.append(key.stringValue) }
        self.init(code, message, codingPath: strings)
    }

    public var description: String {
        codingPath.isEmpty
            ? "BinaryCodingError.\(code): \(message)"
            : "BinaryCodingError.\(code) at \(codingPath.joined(separator: ".")): \(message)"
    }
}

/// The coding key of an element in an unkeyed container.
struct BinaryIndexKey: CodingKey {
    let intValue: Int?
    init(_ index: Int) { self.intValue = index }
    init?(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { return nil }
    var stringValue: String { "Index \(intValue ?? 0)" }
}

/// The coding key `superEncoder()` and `superDecoder()` use.
struct BinarySuperKey: CodingKey {
    init() {}
    init?(intValue: Int) { return nil }
    init?(stringValue: String) { guard stringValue == "super" else { return nil } }
    var stringValue: String { "super" }
    var intValue: Int? { nil }
}
