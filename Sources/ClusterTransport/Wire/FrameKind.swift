/// The kind byte of a cluster frame. Unknown raw values are representable; the connection decides what to do
/// with them.
public struct FrameKind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8

    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Handshake: the sender's identity, version, features and nonce.
    public static let hello = FrameKind(rawValue: 1)
    /// Handshake: the sender's cookie MAC over both nonces, identities and channel bindings.
    public static let auth = FrameKind(rawValue: 2)
    /// Handshake: the sender gives up; a reason code and short text.
    public static let reject = FrameKind(rawValue: 3)
    /// A remote call.
    public static let call = FrameKind(rawValue: 16)
    /// The reply to a remote call.
    public static let reply = FrameKind(rawValue: 17)
    /// Failure-detector heartbeat.
    public static let heartbeat = FrameKind(rawValue: 32)
    /// Membership gossip.
    public static let gossip = FrameKind(rawValue: 33)
    /// The sender leaves the cluster.
    public static let leave = FrameKind(rawValue: 34)

    /// Every kind this version defines.
    public static let known: [FrameKind] = [.hello, .auth, .reject, .call, .reply, .heartbeat, .gossip, .leave]

    public var description: String {
        switch self {
        case .hello: "hello"
        case .auth: "auth"
        case .reject: "reject"
        case .call: "call"
        case .reply: "reply"
        case .heartbeat: "heartbeat"
        case .gossip: "gossip"
        case .leave: "leave"
        default: "unknown(\(rawValue))"
        }
    }
}
