/// The reason code carried by a `reject` frame. Unknown codes from a peer are representable.
public struct HandshakeRejectCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8

    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let unspecified = HandshakeRejectCode(rawValue: 0)
    public static let badMagic = HandshakeRejectCode(rawValue: 1)
    public static let incompatibleVersion = HandshakeRejectCode(rawValue: 2)
    public static let malformed = HandshakeRejectCode(rawValue: 3)
    public static let invalidNodeName = HandshakeRejectCode(rawValue: 4)
    public static let selfConnection = HandshakeRejectCode(rawValue: 5)
    public static let wrongCookie = HandshakeRejectCode(rawValue: 6)
    public static let unexpectedFrame = HandshakeRejectCode(rawValue: 7)
    public static let duplicateHello = HandshakeRejectCode(rawValue: 8)
    public static let authBeforeHello = HandshakeRejectCode(rawValue: 9)
    public static let timedOut = HandshakeRejectCode(rawValue: 10)

    public var description: String {
        switch self {
        case .unspecified: "unspecified"
        case .badMagic: "bad magic"
        case .incompatibleVersion: "incompatible version"
        case .malformed: "malformed"
        case .invalidNodeName: "invalid node name"
        case .selfConnection: "connection to self"
        case .wrongCookie: "wrong cookie"
        case .unexpectedFrame: "unexpected frame"
        case .duplicateHello: "duplicate hello"
        case .authBeforeHello: "auth before hello"
        case .timedOut: "timed out"
        default: "code \(rawValue)"
        }
    }
}

/// Why a handshake failed.
public enum HandshakeFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The peer's hello does not start with `"STRL"`.
    case badMagic
    /// The peer speaks a different major protocol version.
    case incompatibleVersion(major: UInt16, minor: UInt16)
    /// A handshake frame of this kind has a truncated, oversized or invalid payload (or is compressed).
    case malformed(FrameKind)
    /// The peer's hello carries a node name that is not a valid `NodeName`.
    case invalidNodeName
    /// The peer is this very node (same name and incarnation, or our own nonce reflected).
    case selfConnection
    /// The peer's auth MAC does not verify: a different cookie, a replay, or a man in the middle.
    case wrongCookie
    /// A frame of a kind that has no place in the handshake; its content was ignored.
    case unexpectedFrame(FrameKind)
    /// The peer sent a second hello.
    case duplicateHello
    /// The peer sent auth before its hello.
    case authBeforeHello
    /// The peer rejected the handshake.
    case peerRejected(code: HandshakeRejectCode, reason: String)
    /// The shell's handshake timer fired.
    case timedOut

    /// The code sent to the peer in our `reject` frame.
    public var rejectCode: HandshakeRejectCode {
        switch self {
        case .badMagic: .badMagic
        case .incompatibleVersion: .incompatibleVersion
        case .malformed: .malformed
        case .invalidNodeName: .invalidNodeName
        case .selfConnection: .selfConnection
        case .wrongCookie: .wrongCookie
        case .unexpectedFrame: .unexpectedFrame
        case .duplicateHello: .duplicateHello
        case .authBeforeHello: .authBeforeHello
        case .peerRejected(let code, _): code
        case .timedOut: .timedOut
        }
    }

    public var description: String {
        switch self {
        case .badMagic: "handshake: bad magic in hello"
        case .incompatibleVersion(let major, let minor):
            "handshake: incompatible protocol version \(major).\(minor) (we speak \(HandshakeHello.currentMajor).x)"
        case .malformed(let kind): "handshake: malformed \(kind) payload"
        case .invalidNodeName: "handshake: invalid node name in hello"
        case .selfConnection: "handshake: connection to self"
        case .wrongCookie: "handshake: authentication failed (wrong cookie or channel binding)"
        case .unexpectedFrame(let kind): "handshake: unexpected \(kind) frame"
        case .duplicateHello: "handshake: second hello"
        case .authBeforeHello: "handshake: auth before hello"
        case .peerRejected(let code, let reason):
            reason.isEmpty ? "handshake: peer rejected (\(code))" : "handshake: peer rejected (\(code)): \(reason)"
        case .timedOut: "handshake: timed out"
        }
    }
}
