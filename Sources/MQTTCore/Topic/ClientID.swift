/// A client identifier. The server accepts any UTF-8 string of 1 to 65535 bytes without U+0000; the empty string
/// is handled before a `ClientID` is made (an identifier is assigned, or the CONNECT is refused).
public struct ClientID: Sendable, Hashable, Codable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let value: String

    public init(validating value: String) throws(MQTTProtocolError) {
        guard !value.isEmpty, value.utf8.count <= 65_535, !value.utf8.contains(0) else {
            throw MQTTProtocolError(.clientIdentifierNotValid, "invalid client identifier")
        }
        self.value = value
    }

    public init(stringLiteral value: String) {
        do { try self.init(validating: value) } catch { preconditionFailure("invalid client id literal") }
    }

    public var description: String { value }
    public static func < (lhs: ClientID, rhs: ClientID) -> Bool { lhs.value < rhs.value }
}
