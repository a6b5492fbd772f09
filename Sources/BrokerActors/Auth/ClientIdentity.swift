import MQTTCore

/// Who a connection is, as far as authorisation is concerned: its client identifier and the user name it
/// authenticated with (nil for an anonymous connection).
public struct ClientIdentity: Sendable, Hashable {
    public var clientID: ClientID
    public var username: String?

    public init(clientID: ClientID, username: String? = nil) {
        self.clientID = clientID
        self.username = username
    }

    public var isAnonymous: Bool { username == nil }
}
