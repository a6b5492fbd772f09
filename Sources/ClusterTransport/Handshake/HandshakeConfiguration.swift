/// Feature bits announced in `hello`; the connection uses the intersection of both sides.
public struct HandshakeFeatures: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Frames may carry lz4-compressed payloads.
    public static let lz4 = HandshakeFeatures(rawValue: 1 << 0)
}

/// What this node announces in its handshake, and the cookie it authenticates with.
public struct HandshakeConfiguration: Sendable {
    public var node: NodeID
    /// Where this node's cluster listener is reachable.
    public var listen: Endpoint
    public var role: MemberRole
    /// Ownership weight; must be finite and not negative.
    public var weight: Double
    public var features: HandshakeFeatures
    public var cookie: ClusterCookie

    public init(
        node: NodeID, listen: Endpoint, role: MemberRole, weight: Double, features: HandshakeFeatures,
        cookie: ClusterCookie
    ) {
        self.node = node
        self.listen = listen
        self.role = role
        self.weight = weight
        self.features = features
        self.cookie = cookie
    }
}

/// The authenticated peer of an established handshake.
public struct HandshakePeer: Sendable, Equatable {
    public var node: NodeID
    /// Where the peer's cluster listener is reachable (as the peer announced it).
    public var listen: Endpoint
    public var role: MemberRole
    public var weight: Double
    /// The negotiated features: both sides' bits intersected.
    public var features: HandshakeFeatures

    public init(node: NodeID, listen: Endpoint, role: MemberRole, weight: Double, features: HandshakeFeatures) {
        self.node = node
        self.listen = listen
        self.role = role
        self.weight = weight
        self.features = features
    }
}

/// What the shell does next for a handshake.
public enum HandshakeAction: Sendable, Equatable {
    /// Write this frame (uncompressed) to the peer.
    case send(ClusterFrame)
    /// The peer is authenticated; hand the connection over.
    case established(HandshakePeer)
    /// The handshake failed; close the connection (after writing any `send` that came before).
    case fail(HandshakeFailure)
}
