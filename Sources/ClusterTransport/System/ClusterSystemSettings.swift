import NIOCore

/// Everything a `ClusterSystem` needs to know at start. Defaults suit a small cluster on one LAN.
public struct ClusterSystemSettings: Sendable {
    /// This node's name (stable across restarts) and where its cluster listener binds and is reachable.
    public var name: NodeName
    public var bindHost: String = "::"
    /// 0 picks a free port (tests); the actual port is then announced.
    public var port: Int = 4370
    /// The host other nodes dial to reach this one. Defaults to `bindHost`, or 127.0.0.1 for a wildcard bind.
    public var advertisedHost: String?
    public var seeds: [Endpoint] = []
    /// False: no cluster listener and no seeds, a standalone node whose actors still run on this system.
    public var listens = true
    public var role: MemberRole = .broker
    public var weight: Double = 1
    /// Client-facing services announced in this member's record (see `MemberService`); may change later through
    /// `ClusterSystem.updateLocalMember`.
    public var services: [MemberService] = []
    public var cookie: ClusterCookie
    /// Certificate files; nil generates a self-signed certificate for this boot.
    public var tlsFiles: ClusterTLSFiles?

    /// Deadline of a remote call that does not set its own (`ClusterSystem.withCallTimeout`).
    public var callTimeout: Duration = .seconds(5)
    public var maxFrameSize: Int = 8 << 20
    /// Payloads above this many bytes are compressed with lz4 when both sides support it; nil turns lz4 off.
    public var compressAbove: Int? = 4096
    /// Outbound bytes queued for one peer (connecting, or its socket is full) before calls fail with `overloaded`.
    public var maxQueuedBytesPerPeer: Int = 32 << 20
    public var handshakeTimeout: Duration = .seconds(5)
    public var heartbeatInterval: Duration = .milliseconds(200)
    public var gossipInterval: Duration = .seconds(1)
    public var failureDetector = FailureDetector.Configuration()
    /// A node listed among its own seeds (or with no seeds) becomes up alone after this long without a peer.
    public var seedJoinTimeout: Duration = .seconds(2)
    public var reconnectBackoff: ClosedRange<Duration> = .milliseconds(100) ... .seconds(2)

    public init(name: NodeName, cookie: ClusterCookie) {
        self.name = name
        self.cookie = cookie
    }

    var advertisedHostOrDefault: String {
        if let advertisedHost { return advertisedHost }
        return bindHost == "::" || bindHost == "0.0.0.0" ? "127.0.0.1" : bindHost
    }
}

extension Duration {
    /// The same span as NIO's `TimeAmount` (nanosecond precision).
    public var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
