import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// The IO shell of a `ClusterSystem`: the TLS listener, one `Association` per peer endpoint, the timer that sends
/// heartbeats and gossip, and the glue between frames and the system (calls, replies) and membership.
final class ClusterTransportLayer: Sendable {
    struct State {
        var associations: [Endpoint: Association] = [:]
        var inbound: [ObjectIdentifier: any Channel] = [:]
        var timer: RepeatedTask?
        var ticks: UInt64 = 0
        var lastTick: NIODeadline?
        var skippedLateTick = false
        var shuttingDown = false
    }

    let settings: ClusterSystemSettings
    let node: NodeID
    let logger: Logger
    let tls: ClusterTLS
    let clientContext: NIOSSLContext
    let localEndpoint: Endpoint
    let handshakeConfiguration: HandshakeConfiguration
    let membership: MembershipShell
    let state = Mutex(State())
    private let serverChannel: (any Channel)?
    private let startedAt = NIODeadline.now()

    /// Binds the cluster listener. Inbound links are served once `box` holds the system.
    init(settings: ClusterSystemSettings, node: NodeID, logger: Logger, box: SystemBox) async throws {
        self.settings = settings
        self.node = node
        self.logger = logger
        let host = settings.advertisedHostOrDefault
        let tls = try settings.tlsFiles.map(ClusterTLS.load) ?? ClusterTLS.generate(nodeName: settings.name, hosts: [host])
        self.tls = tls
        self.clientContext = try tls.makeClientContext()
        let serverContext = try tls.makeServerContext()
        let maxFrameSize = settings.maxFrameSize
        let queueLimit = settings.maxQueuedBytesPerPeer
        let inboundRegistry = InboundRegistry()
        guard settings.listens else {
            self.serverChannel = nil
            self.localEndpoint = Endpoint(host: host, port: settings.port == 0 ? 4370 : settings.port)!
            self.handshakeConfiguration = HandshakeConfiguration(
                node: node, listen: localEndpoint, role: settings.role, weight: settings.weight, features: [],
                cookie: settings.cookie)
            self.membership = MembershipShell(
                local: Member(
                    id: node, endpoint: localEndpoint, role: settings.role, weight: settings.weight, status: .joining,
                    version: 0, services: settings.services),
                detector: settings.failureDetector)
            return
        }
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 256 << 10, high: 1 << 20))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let system = box.system else { throw ChannelError.ioOnClosedChannel }
                    inboundRegistry.add(channel, to: system.transport)
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(tls.makeServerHandler(context: serverContext))
                    try sync.addHandler(ByteToMessageHandler(ClusterFrameDecoder(maxFrameSize: maxFrameSize)))
                    try sync.addHandler(PeerHandler(system: system, direction: .inbound, writer: FrameWriter(limit: queueLimit)))
                }
            }
            .bind(host: settings.bindHost, port: settings.port).get()
        self.serverChannel = server
        guard let port = server.localAddress?.port, let endpoint = Endpoint(host: host, port: port) else {
            throw ChannelError.unknownLocalAddress
        }
        self.localEndpoint = endpoint
        self.handshakeConfiguration = HandshakeConfiguration(
            node: node, listen: endpoint, role: settings.role, weight: settings.weight,
            features: settings.compressAbove == nil ? [] : [.lz4], cookie: settings.cookie)
        let local = Member(
            id: node, endpoint: endpoint, role: settings.role, weight: settings.weight, status: .joining, version: 0,
            services: settings.services)
        self.membership = MembershipShell(local: local, detector: settings.failureDetector)
        logger.info("cluster listener up", metadata: ["cluster/endpoint": "\(endpoint)", "cluster/incarnation": "\(node.incarnation)"])
    }

    /// Dials the seeds and starts the heartbeat timer. With no seeds the node is up at once.
    func beginJoining(system: ClusterSystem) {
        let interval = settings.heartbeatInterval.timeAmount
        let timer = system.group.next().scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            self.tick(system: system)
        }
        state.withLock { $0.timer = timer }
        if settings.seeds.isEmpty || !settings.listens {
            apply(membership.setLocalStatus(.up), system: system)
        }
        for seed in settings.seeds where seed != localEndpoint && settings.listens {
            association(for: seed).connect(system: system)
        }
    }

    func association(for endpoint: Endpoint) -> Association {
        state.withLock { s in
            if let existing = s.associations[endpoint] { return existing }
            let created = Association(endpoint: endpoint, settings: settings)
            s.associations[endpoint] = created
            return created
        }
    }

    private var connectedAssociations: [Association] {
        state.withLock { Array($0.associations.values) }.filter(\.isConnected)
    }

    // MARK: Sending

    /// Queues a frame to a member (to that incarnation of it, when given). Fails fast when the member is not live,
    /// its link keeps failing, or its queue is full.
    func send(_ frame: ClusterFrame, to name: NodeName, incarnation: NodeID? = nil) throws {
        guard let member = membership.snapshot.member(named: name), member.status < .down,
            incarnation == nil || member.id == incarnation
        else {
            throw RemoteCallError(.peerUnreachable, "\(incarnation.map(\.description) ?? name.rawValue) is not a live member")
        }
        let association = association(for: member.endpoint)
        if association.isFailing { throw RemoteCallError(.peerUnreachable, "\(name): link down") }
        switch association.writer.enqueue(frame) {
        case .queued: return
        case .full: throw RemoteCallError(.overloaded, "\(name): outbound queue full")
        case .closed: throw RemoteCallError(.shutDown)
        }
    }

    func gossipToAll() {
        var payload = ByteBuffer()
        guard (try? BinaryEncoder().encode(membership.gossip, into: &payload)) != nil else { return }
        let frame = ClusterFrame(kind: .gossip, payload: payload)
        for association in connectedAssociations { _ = association.writer.enqueue(frame) }
    }

    // MARK: Timer

    private func tick(system: ClusterSystem) {
        let now = NIODeadline.now()
        let lateLimit = settings.heartbeatInterval.timeAmount * 3
        let (ticks, skipDetection) = state.withLock { s in
            s.ticks += 1
            // A tick this late means this process was stalled (CPU starvation, a pause): the peers' heartbeats are
            // still unread in the sockets, so their silence is ours. Judge them at the next tick, once the loop has
            // read its input; only a stall that goes on tick after tick lets detection run late.
            let late = s.lastTick.map { now - $0 > lateLimit } ?? false
            let skip = late && !s.skippedLateTick
            s.skippedLateTick = skip
            s.lastTick = now
            return (s.ticks, skip)
        }
        let heartbeat = ClusterFrame(kind: .heartbeat, payload: ByteBuffer())
        for association in connectedAssociations { _ = association.writer.enqueue(heartbeat) }
        if skipDetection {
            logger.debug("cluster tick late: failure detection deferred")
        } else {
            apply(membership.tick(now: now), system: system)
        }
        if membership.local.status == .joining, now - startedAt >= settings.seedJoinTimeout.timeAmount,
            connectedAssociations.isEmpty, settings.seeds.contains(localEndpoint) || allSeedsAreSelf
        {
            logger.info("no seed reachable: up alone")
            apply(membership.setLocalStatus(.up), system: system)
        }
        let gossipEvery = max(1, settings.gossipInterval.timeAmount.nanoseconds / max(1, settings.heartbeatInterval.timeAmount.nanoseconds))
        if ticks % UInt64(gossipEvery) == 0 { gossipToAll() }
        system.pending.expire(now: now)
    }

    private var allSeedsAreSelf: Bool {
        let associations = state.withLock { Array($0.associations.values) }
        return !associations.isEmpty && associations.allSatisfy(\.isSelf)
    }

    /// Changes the local member's weight and/or services and gossips the new record at once.
    func updateLocal(weight: Double?, services: [MemberService]?, system: ClusterSystem) -> Bool {
        let events = membership.updateLocal(weight: weight, services: services)
        guard !events.isEmpty else { return false }
        logger.info("local member updated", metadata: ["cluster/member": "\(membership.local)"])
        apply(events, system: system)
        return true
    }

    // MARK: Shutdown

    /// Announces `leaving` to every peer and waits until that gossip has been written.
    func leave(system: ClusterSystem) async {
        apply(membership.setLocalStatus(.leaving), system: system)
        for association in connectedAssociations {
            guard let channel = association.channel else { continue }
            try? await channel.eventLoop.submit {}.get()  // runs after the drain that `enqueue` scheduled
        }
    }

    func shutdown() async {
        let (timer, associations, inbound) = state.withLock { s in
            s.shuttingDown = true
            defer {
                s.timer = nil
                s.associations.removeAll()
                s.inbound.removeAll()
            }
            return (s.timer, Array(s.associations.values), Array(s.inbound.values))
        }
        timer?.cancel()
        try? await serverChannel?.close()
        for channel in associations.compactMap({ $0.shutdown() }) + inbound {
            try? await channel.close()
        }
        membership.finish()
    }
}

/// Holds the system for the listener, which is bound before the system has finished initialising.
final class SystemBox: Sendable {
    private let value = Mutex<ClusterSystem?>(nil)
    var system: ClusterSystem? { value.withLock { $0 } }
    func set(_ system: ClusterSystem?) { value.withLock { $0 = system } }
}

/// Tracks inbound channels so that shutdown can close them.
struct InboundRegistry: Sendable {
    func add(_ channel: any Channel, to transport: ClusterTransportLayer) {
        let key = ObjectIdentifier(channel)
        transport.state.withLock { $0.inbound[key] = channel }
        channel.closeFuture.whenComplete { _ in
            _ = transport.state.withLock { $0.inbound.removeValue(forKey: key) }
        }
    }
}
