import MQTTCore

/// Who may connect, publish and subscribe. The broker asks this on CONNECT, on every PUBLISH and on every
/// SUBSCRIBE; it must be fast and must not block.
public protocol AccessPolicy: Sendable {
    /// `.success`, or the CONNACK reason to refuse with (`.badUserNameOrPassword`, `.notAuthorized`).
    func authenticate(clientID: ClientID, username: String?, password: [UInt8]?) -> MQTTReasonCode
    func mayPublish(clientID: ClientID, username: String?, topic: TopicName) -> Bool
    func maySubscribe(clientID: ClientID, username: String?, filter: TopicFilter) -> Bool
}

/// Everyone may do everything (the default, like Mosquitto's `allow_anonymous true` without an ACL).
public struct AllowAllPolicy: AccessPolicy {
    public init() {}
    public func authenticate(clientID: ClientID, username: String?, password: [UInt8]?) -> MQTTReasonCode { .success }
    public func mayPublish(clientID: ClientID, username: String?, topic: TopicName) -> Bool { true }
    public func maySubscribe(clientID: ClientID, username: String?, filter: TopicFilter) -> Bool { true }
}
