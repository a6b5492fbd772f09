import ClusterTransport
import Distributed
import Logging
import MQTTCore
import Synchronization

/// The broker on one node: the composition of the session directory, the topic shards, the retained stores and
/// the cluster routes, plus the policy. Connections call it through their `ConnectionPipeline`; sessions call back
/// through `BrokerServices`.
///
/// A client's session lives on the node that owns `session/<clientID>` by rendezvous hashing over the up brokers.
/// A connection on another node attaches to it there (through `/sessions`) and talks to the remote `SessionActor`.
public final class Broker: BrokerServices {
    public let configuration: BrokerConfiguration
    public let actorSystem: BrokerActorSystem
    public let sessions = SessionDirectory()
    public let metrics = BrokerMetrics()
    public let clock: any BrokerClock
    public let policy: any AccessPolicy
    public let startedAt: Timestamp
    /// The cluster's routes as this node knows them (this node's own included).
    public let routes: ClusterRoutes
    let shardRouter: ShardRouter
    let retained: [RetainedStoreActor]
    let announcer: RouteAnnouncer
    let replicator: Replicator
    let replicaActor: SessionReplicaActor
    /// Connections on this node attached to sessions that live on other nodes.
    let remoteAttachments = RemoteAttachments()
    let failovers = FailoverLog()
    let health: Mutex<ClusterHealth>
    /// Set once the node starts draining (`drain`); never cleared.
    let drainingFlag = Mutex(false)
    /// The data directory, when the node has one.
    public let store: DurableStore?
    let connectLock = KeyedLock<ClientID>()
    let logger: Logger

    var shards: [TopicShardActor] { shardRouter.shards }

    public init(
        configuration: BrokerConfiguration, policy: any AccessPolicy = AllowAllPolicy(),
        clock: any BrokerClock = SystemClock(), actorSystem: BrokerActorSystem, store: DurableStore? = nil,
        logger: Logger
    ) {
        self.configuration = configuration
        self.store = store
        self.actorSystem = actorSystem
        self.clock = clock
        self.policy = policy
        self.logger = logger
        self.startedAt = clock.now()
        self.health = Mutex(ClusterHealth(local: actorSystem.node.name))
        let directory = sessions
        // Per-node singletons at well-known paths (`/topics/3`), so other nodes can address them.
        let shards = (0..<max(1, configuration.topicShards)).map { index in
            actorSystem.makeWellKnown(path: ActorPath("/topics/\(index)")!) {
                TopicShardActor(index: index, sessions: directory, actorSystem: actorSystem)
            }
        }
        self.shardRouter = ShardRouter(shards: shards)
        let retained = (0..<max(1, configuration.retainedShards)).map { index in
            actorSystem.makeWellKnown(path: RetainedStoreActor.path(index)) {
                RetainedStoreActor(index: index, clock: clock, store: store, actorSystem: actorSystem)
            }
        }
        self.retained = retained
        _ = actorSystem.makeWellKnown(path: RetainerActor.path) { RetainerActor(stores: retained, actorSystem: actorSystem) }
        let routes = ClusterRoutes(local: actorSystem.node.name)
        self.routes = routes
        self.announcer = RouteAnnouncer(routes: routes, system: actorSystem, logger: logger)
        self.replicator = Replicator(system: actorSystem) { clientIDs in
            Task { for clientID in clientIDs { try? await directory.session(for: clientID)?.resyncReplica() } }
        }
        self.replicaActor = actorSystem.makeWellKnown(path: SessionReplicaActor.path) {
            SessionReplicaActor(actorSystem: actorSystem)
        }
        let shardRouter = self.shardRouter
        let failovers = self.failovers
        let announcer = self.announcer
        _ = actorSystem.makeWellKnown(path: RouterActor.path) {
            RouterActor(
                routes: routes, shards: shardRouter, failovers: failovers, announcer: announcer, actorSystem: actorSystem)
        }
        _ = actorSystem.makeWellKnown(path: SessionHostActor.path) {
            SessionHostActor(broker: self, actorSystem: actorSystem)
        }
        _ = actorSystem.makeWellKnown(path: AdminActor.path) { AdminActor(broker: self, actorSystem: actorSystem) }
    }

    // MARK: Connect and disconnect

    /// Authenticates, then finds, takes over or creates the session on its owner and attaches the connection.
    public func connect(_ request: ConnectRequest, connection: ConnectionActor) async -> ConnectOutcome {
        let verdict = policy.authenticate(
            clientID: request.clientID, username: request.username, password: request.password)
        guard verdict == .success else {
            logger.info("connect refused", metadata: ["mqtt/client_id": "\(request.clientID)", "mqtt/reason": "\(verdict)"])
            return ConnectOutcome(reasonCode: verdict)
        }
        var request = request
        if let will = request.will,
            !policy.mayPublish(clientID: request.clientID, username: request.username, topic: will.message.topic)
        {
            request.will = nil  // a will the client may not publish is dropped, as EMQX does
        }
        request.receiveMaximum = min(request.receiveMaximum, configuration.maximumInflight)
        // Views of the membership may differ for a moment: an owner that says it is not the owner is asked again
        // once this node's view has changed.
        for attempt in 0..<3 {
            guard let owner = sessionOwner(of: request.clientID), owner != actorSystem.node.name else {
                return await connectLocally(request, connection: connection)
            }
            let outcome = await connectRemotely(request, connection: connection, owner: owner)
            guard outcome.reasonCode == .useAnotherServer, attempt < 2 else { return outcome }
            let epoch = actorSystem.membership.epoch
            _ = try? await actorSystem.awaitMembership(within: .milliseconds(500)) { $0.epoch > epoch }
        }
        return ConnectOutcome(reasonCode: .useAnotherServer)
    }

    private func connectRemotely(_ request: ConnectRequest, connection: ConnectionActor, owner: NodeName) async
        -> ConnectOutcome
    {
        do {
            let host = try actorSystem.wellKnown(SessionHostActor.self, path: SessionHostActor.path, on: owner)
            let outcome = try await host.connect(request, connection: connection)
            if let session = outcome.session { remoteAttachments.add(connection, session: session, owner: owner) }
            return outcome
        } catch {
            logger.warning(
                "session owner unreachable", metadata: ["mqtt/client_id": "\(request.clientID)", "cluster/owner": "\(owner)", "error": "\(error)"])
            return ConnectOutcome(reasonCode: .serverUnavailable)
        }
    }

    /// Attaches to the client's session on this node (the caller has checked ownership). While a broker is down
    /// whose sessions this node has not finished taking over, it waits for that first (at most 5 s): the client's
    /// session may be one of them, and a fresh session would answer Session Present 0.
    func connectLocally(_ request: ConnectRequest, connection: ConnectionActor) async -> ConnectOutcome {
        for member in actorSystem.membership.members where member.role == .broker && member.status == .down {
            _ = await failovers.wait(for: member.id.name, within: .seconds(5))
        }
        return await connectLock.withLock(request.clientID) {
            await self.attachSession(request, connection: connection)
        }
    }

    private func attachSession(_ request: ConnectRequest, connection: ConnectionActor) async -> ConnectOutcome {
        if let existing = sessions.session(for: request.clientID) {
            // A session that ends with its connection (clean session, expiry 0) is not resumed by a takeover: it
            // ends when the old connection is closed, so the new one starts afresh [MQTT-3.1.2-4].
            let persistent = (try? await existing.isPersistent()) ?? false
            if request.cleanStart || !persistent {
                try? await existing.discard()
            } else if let resend = try? await existing.attach(
                connection: connection, receiveMaximum: request.receiveMaximum,
                expiryInterval: request.sessionExpiryInterval, will: request.will)
            {
                return ConnectOutcome(reasonCode: .success, sessionPresent: true, resend: resend, session: existing)
            }
        }
        let state = SessionState(
            clientID: request.clientID, expiryInterval: request.sessionExpiryInterval,
            queueCapacity: configuration.sessionQueueCapacity,
            queueQoS0WhileOffline: configuration.queueQoS0WhileOffline)
        let session = SessionActor(state: state, services: self, actorSystem: actorSystem)
        sessions.register(session, for: request.clientID)
        let resend = (try? await session.attach(
            connection: connection, receiveMaximum: request.receiveMaximum,
            expiryInterval: request.sessionExpiryInterval, will: request.will)) ?? []
        return ConnectOutcome(reasonCode: .success, sessionPresent: false, resend: resend, session: session)
    }

    public func disconnect(
        _ session: SessionActor, connection: ConnectionActor, publishWill: Bool, expiryOverride: UInt32?
    ) async {
        remoteAttachments.remove(connection)
        try? await session.detach(connection: connection, publishWill: publishWill, expiryOverride: expiryOverride)
    }

    // MARK: Ownership

    /// The node that owns the client's session; nil when there is no up broker in the view (this node alone).
    func sessionOwner(of clientID: ClientID) -> NodeName? {
        guard actorSystem.settings.listens else { return nil }
        return Ownership.primary(for: Self.sessionKey(clientID), among: actorSystem.ownershipCandidates)
    }

    func ownsSession(of clientID: ClientID) -> Bool {
        guard let owner = sessionOwner(of: clientID) else { return true }
        return owner == actorSystem.node.name
    }

    /// The ownership key of a client's session. A plain string: client IDs may be longer than an `ActorKey`.
    static func sessionKey(_ clientID: ClientID) -> String { "session/\(clientID)" }
}
