import MQTTCore
import NIOCore

/// Decides whether a CONNECT's user name and password are accepted, from an optional password file and the
/// anonymous policy (mosquitto's `password_file` and `allow_anonymous`).
///
/// - No user name: accepted when `allowAnonymous`, else `.anonymousNotAllowed` (Not authorized). A password
///   without a user name (allowed in MQTT 5) is ignored: the connection is anonymous.
/// - User name with a password file: the password must verify, else Bad User Name or Password (unknown users are
///   never let in as anonymous).
/// - User name without a password file: accepted, unverified, when `allowAnonymous`; else `.noPasswordFile`.
///
/// `$7$` hashes at mosquitto's 101 iterations cost tens of microseconds, so this can run on the event loop; files
/// with high iteration counts should be checked off it.
public struct Authenticator: Sendable {
    public var passwordFile: PasswordFile?
    public var allowAnonymous: Bool

    public init(passwordFile: PasswordFile? = nil, allowAnonymous: Bool = true) {
        self.passwordFile = passwordFile
        self.allowAnonymous = allowAnonymous
    }

    public func authenticate(username: String?, password: [UInt8]?) -> AuthenticationResult {
        guard let username else {
            return allowAnonymous ? .accepted(username: nil) : .rejected(.anonymousNotAllowed)
        }
        guard let passwordFile else {
            return allowAnonymous ? .accepted(username: username) : .rejected(.noPasswordFile)
        }
        guard let password else { return .rejected(.missingPassword) }
        if passwordFile.verify(username: username, password: password) { return .accepted(username: username) }
        return .rejected(passwordFile.contains(username: username) ? .wrongPassword : .unknownUser)
    }

    /// For a decoded CONNECT.
    public func authenticate(_ connect: MQTTPacket.Connect) -> AuthenticationResult {
        authenticate(username: connect.username, password: connect.password.map { Array($0.readableBytesView) })
    }
}
