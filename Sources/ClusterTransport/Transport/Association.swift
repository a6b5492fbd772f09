import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// This node's outbound link to one endpoint: it dials, re-dials with exponential backoff while the link is
/// wanted, and owns the `FrameWriter` that every call, heartbeat and gossip to that peer goes through. (Each node
/// dials every other one, so a pair of nodes has two links; replies travel back on the link the call came in on.)
final class Association: Sendable {
    private struct State {
        var channel: (any Channel)?
        var peer: NodeID?
        var dialing = false
        /// Whether to keep the link up (false once the peer is down, removed, or this endpoint is ourselves).
        var wanted = true
        var isSelf = false
        /// The last dial or handshake failed and no link has come up since: calls fail fast instead of queueing.
        var failing = false
        var backoff: Duration
        var retry: Scheduled<Void>?
    }

    let endpoint: Endpoint
    let writer: FrameWriter
    private let state: Mutex<State>

    init(endpoint: Endpoint, settings: ClusterSystemSettings) {
        self.endpoint = endpoint
        self.writer = FrameWriter(limit: settings.maxQueuedBytesPerPeer)
        self.state = Mutex(State(backoff: settings.reconnectBackoff.lowerBound))
    }

    var peer: NodeID? { state.withLock { $0.peer } }
    var isConnected: Bool { state.withLock { $0.channel != nil } }
    /// Calls fail fast (rather than queue) while the link is down and no dial is under way.
    var isFailing: Bool { state.withLock { $0.failing && $0.channel == nil && !$0.dialing } }
    var isSelf: Bool { state.withLock { $0.isSelf } }
    var channel: (any Channel)? { state.withLock { $0.channel } }

    /// Dials unless a link is up, a dial is under way, or the link is not wanted.
    func connect(system: ClusterSystem) {
        let go = state.withLock { s in
            guard s.wanted, !s.isSelf, s.channel == nil, !s.dialing else { return false }
            s.dialing = true
            s.retry?.cancel()
            s.retry = nil
            return true
        }
        guard go else { return }
        let transport = system.transport
        let bootstrap = ClientBootstrap(group: system.group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: .init(low: 256 << 10, high: 1 << 20))
            .connectTimeout(.seconds(2))
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(transport.tls.makeClientHandler(context: transport.clientContext))
                    try sync.addHandler(ByteToMessageHandler(ClusterFrameDecoder(maxFrameSize: system.settings.maxFrameSize)))
                    try sync.addHandler(PeerHandler(system: system, direction: .outbound(self), writer: writer))
                }
            }
        bootstrap.connect(host: endpoint.host, port: endpoint.port).whenFailure { [self] error in
            handshakeFailed(error)
            system.transport.dialFailed(self, error: error, system: system)
        }
    }

    /// The handshake on a link of ours succeeded.
    func established(_ peer: NodeID, channel: any Channel, backoffFloor: Duration) {
        state.withLock { s in
            s.channel = channel
            s.peer = peer
            s.dialing = false
            s.failing = false
            s.backoff = backoffFloor
        }
    }

    /// A dial, TLS or cookie handshake failed (the link closes, or never opened).
    func handshakeFailed(_ error: any Error) {
        state.withLock { s in
            s.failing = true
            if let failure = error as? HandshakeFailure, failure == .selfConnection { s.isSelf = true }
        }
    }

    /// The link closed; returns the peer it was connected to.
    func closed() -> NodeID? {
        state.withLock { s in
            s.channel = nil
            s.dialing = false
            return s.peer
        }
    }

    /// Schedules the next dial after the current backoff (doubled each time, up to the ceiling, with jitter).
    func scheduleRetry(system: ClusterSystem) {
        let ceiling = system.settings.reconnectBackoff.upperBound
        let delay: Duration? = state.withLock { s in
            s.dialing = false
            guard s.wanted, !s.isSelf, s.channel == nil, s.retry == nil else { return nil }
            let delay = s.backoff
            s.backoff = min(ceiling, s.backoff * 2)
            return delay
        }
        guard let delay else { return }
        let jittered = delay * Double.random(in: 0.8...1.2)
        let task = system.group.next().scheduleTask(in: jittered.timeAmount) { [self] in
            state.withLock { $0.retry = nil }
            connect(system: system)
        }
        state.withLock { s in
            if s.retry == nil { s.retry = task } else { task.cancel() }
        }
    }

    /// Whether to keep this link up. Not wanted: any link is closed and queued frames are dropped.
    func setWanted(_ wanted: Bool) {
        let close: (any Channel)? = state.withLock { s in
            s.wanted = wanted
            guard !wanted else { return nil }
            s.retry?.cancel()
            s.retry = nil
            return s.channel
        }
        if !wanted { writer.discardQueued() }
        close?.close(promise: nil)
    }

    func shutdown() -> (any Channel)? {
        let channel = state.withLock { s in
            s.wanted = false
            s.retry?.cancel()
            s.retry = nil
            return s.channel
        }
        writer.close()
        return channel
    }
}
