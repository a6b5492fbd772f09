/// An identifier that is a validated string: on the wire it is the string, and decoding validates it again, so a
/// peer cannot smuggle in a value the initialiser would refuse.
public protocol ValidatedStringIdentifier: Codable, Hashable, Sendable, CustomStringConvertible {
    var rawValue: String { get }
    init?(_ rawValue: String)
}

extension ValidatedStringIdentifier {
    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(raw) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "invalid \(Self.self)"))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }
}
