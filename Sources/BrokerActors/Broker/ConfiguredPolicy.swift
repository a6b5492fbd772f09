import MQTTCore

/// The policy built from the node's settings: the password file and anonymous rule (`Authenticator`) plus an
/// optional ACL. Without an ACL every authenticated client may publish and subscribe anywhere.
public struct ConfiguredPolicy: AccessPolicy {
    public let authenticator: Authenticator
    public let acl: AccessControlList?

    public init(authenticator: Authenticator, acl: AccessControlList?) {
        self.authenticator = authenticator
        self.acl = acl
    }

    public func authenticate(clientID: ClientID, username: String?, password: [UInt8]?) -> MQTTReasonCode {
        authenticator.authenticate(username: username, password: password).reasonCode
    }

    public func mayPublish(clientID: ClientID, username: String?, topic: TopicName) -> Bool {
        guard let acl else { return true }
        return acl.check(.publish(topic), client: ClientIdentity(clientID: clientID, username: username)) == .allow
    }

    public func maySubscribe(clientID: ClientID, username: String?, filter: TopicFilter) -> Bool {
        guard let acl else { return true }
        return acl.check(.subscribe(filter), client: ClientIdentity(clientID: clientID, username: username)) == .allow
    }
}
