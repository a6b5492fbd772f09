import MQTTCore

/// The outcome of checking a CONNECT's credentials.
public enum AuthenticationResult: Sendable, Hashable {
    /// Accepted; `username` is the name to authorise with (nil for an anonymous connection).
    case accepted(username: String?)
    case rejected(AuthenticationRejection)

    /// The CONNACK reason code: `.success` or the rejection's code.
    public var reasonCode: MQTTReasonCode {
        switch self {
        case .accepted: .success
        case .rejected(let rejection): rejection.reasonCode
        }
    }

    public var isAccepted: Bool {
        if case .accepted = self { return true }
        return false
    }
}

/// Why a CONNECT was refused. The client only learns the reason code; the finer reason is for the broker's log.
public enum AuthenticationRejection: Sendable, Hashable, CustomStringConvertible {
    /// No user name, and anonymous connections are not allowed.
    case anonymousNotAllowed
    /// A user name, but no password file to check it against, and anonymous connections are not allowed.
    case noPasswordFile
    /// A user name without a password, while a password file is configured.
    case missingPassword
    /// The user name is not in the password file.
    case unknownUser
    /// The password does not match the user's hash.
    case wrongPassword

    /// v5 CONNACK reason code: 0x86 Bad User Name or Password for credentials that do not check out, 0x87 Not
    /// authorized when the connection is refused by policy. `reasonCode.v3ConnectReturnCode` gives 4 or 5.
    public var reasonCode: MQTTReasonCode {
        switch self {
        case .anonymousNotAllowed, .noPasswordFile: .notAuthorized
        case .missingPassword, .unknownUser, .wrongPassword: .badUserNameOrPassword
        }
    }

    /// A short constant phrase for logs.
    public var description: String {
        switch self {
        case .anonymousNotAllowed: "anonymous connection not allowed"
        case .noPasswordFile: "no password file to check user name"
        case .missingPassword: "password missing"
        case .unknownUser: "unknown user"
        case .wrongPassword: "wrong password"
        }
    }
}
