import ClusterTransport
import Distributed
import Logging
import MQTTCore

/// The broker on one node: the composition of the session directory, the topic shards and the retained stores,
/// plus the policy. Connections call it through their `ConnectionPipeline`; sessions call back through
/// `BrokerServices`.
public final class Broker: BrokerServices {
    public let configuration: BrokerConfiguration
    public let actorSystem: BrokerActorSystem
    public let sessions = SessionDirectory()
    public let metrics = BrokerMetrics()
    public let clock: any BrokerClock
    public let policy: any AccessPolicy
    public let startedAt: Timestamp
    let shards: [TopicShardActor]
    let retained: [RetainedStoreActor]
    private let connectLock = KeyedLock<ClientID>()
    let logger: Logger

    public init(
        configuration: BrokerConfiguration, policy: any AccessPolicy = AllowAllPolicy(),
        clock: any BrokerClock = SystemClock(), actorSystem: BrokerActorSystem, logger: Logger
    ) {
        self.configuration = configuration
        self.actorSystem = actorSystem
        self.clock = clock
        self.policy = policy
        self.logger = logger
        self.startedAt = clock.now()
        let directory = sessions
        // Per-node singletons at well-known paths (`/topics/3`), so other nodes can address them.
        self.shards = (0..<max(1, configuration.topicShards)).map { index in
            actorSystem.makeWellKnown(path: ActorPath("/topics/\(index)")!) {
                TopicShardActor(index: index, sessions: directory, actorSystem: actorSystem)
            }
        }
        self.retained = (0..<max(1, configuration.retainedShards)).map { index in
            actorSystem.makeWellKnown(path: ActorPath("/retained/\(index)")!) {
                RetainedStoreActor(clock: clock, actorSystem: actorSystem)
            }
        }
    }

    // MARK: Connect and disconnect

    /// Authenticates, then finds, takes over or creates the session and attaches the connection.
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
        let accepted = request
        return await connectLock.withLock(request.clientID) {
            await self.attachSession(accepted, connection: connection)
        }
    }

    private func attachSession(_ request: ConnectRequest, connection: ConnectionActor) async -> ConnectOutcome {
        var request = request
        request.receiveMaximum = min(request.receiveMaximum, configuration.maximumInflight)
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
                return ConnectOutcome(reasonCode: .success, sessionPresent: true, resend: resend)
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
        return ConnectOutcome(reasonCode: .success, sessionPresent: false, resend: resend)
    }

    public func disconnect(
        _ clientID: ClientID, connection: ConnectionActor, publishWill: Bool, expiryOverride: UInt32?
    ) async {
        guard let session = sessions.session(for: clientID) else { return }
        try? await session.detach(connection: connection, publishWill: publishWill, expiryOverride: expiryOverride)
    }

    // MARK: Publish

    /// Routes messages from one publisher, in order. Returns a reason code per message: success, 0x10 when no
    /// subscriber matched, 0x87 when the policy refused it. Returns after every matching session has accepted its
    /// copy.
    ///
    /// `username` is the publisher's, for the policy. Wills and `$SYS` pass `authorize: false`: a will is checked
    /// when CONNECT carries it.
    public func publish(_ messages: [Message], username: String? = nil, authorize: Bool = true) async
        -> [MQTTReasonCode]
    {
        var codes = [MQTTReasonCode](repeating: .success, count: messages.count)
        var perShard: [Int: [(Int, Message)]] = [:]
        for (position, message) in messages.enumerated() {
            if authorize, let publisher = message.publisher,
                message.topic.isSysTopic
                    || !policy.mayPublish(clientID: publisher, username: username, topic: message.topic)
            {
                codes[position] = .notAuthorized
                metrics.publishDenied.add(1, ordering: .relaxed)
                continue
            }
            if message.retain {
                try? await retainedStore(for: message.topic).set(message)
            }
            perShard[shardIndex(forFirstLevel: message.topic.firstLevel), default: []].append((position, message))
        }
        let results: [(Int, Int)]
        if perShard.count == 1, let (shard, items) = perShard.first {
            // The common case (one message, or one publisher's topics in one shard): no child task.
            results = await route(items, through: shards[shard])
        } else {
            results = await withTaskGroup(of: [(Int, Int)].self) { group in
                for (shard, items) in perShard {
                    let actor = shards[shard]
                    group.addTask { await self.route(items, through: actor) }
                }
                var all: [(Int, Int)] = []
                for await part in group { all += part }
                return all
            }
        }
        for (position, count) in results where count == 0 && codes[position] == .success {
            codes[position] = .noMatchingSubscribers
        }
        return codes
    }

    /// Routes `items` (position in the batch, message) through one shard; returns (position, sessions reached).
    private func route(_ items: [(Int, Message)], through shard: TopicShardActor) async -> [(Int, Int)] {
        let counts = (try? await shard.route(items.map(\.1))) ?? []
        return zip(items.map(\.0), counts).map { ($0, $1) }
    }

    public func publishWill(_ message: Message) async {
        _ = await publish([message], authorize: false)
    }

    // MARK: Subscribe

    public struct SubscribeResult: Sendable {
        public var reasonCodes: [MQTTReasonCode]
        /// Retained messages to send after SUBACK.
        public var retained: [SessionDelivery]
    }

    public func subscribe(_ clientID: ClientID, username: String?, _ packet: MQTTPacket.Subscribe) async
        -> SubscribeResult
    {
        guard let session = sessions.session(for: clientID) else {
            return SubscribeResult(reasonCodes: packet.subscriptions.map { _ in .unspecifiedError }, retained: [])
        }
        let identifier = packet.properties.subscriptionIdentifiers.first
        var codes: [MQTTReasonCode] = []
        var stored: [StoredSubscription] = []
        var retainedDeliveries: [SessionDelivery] = []
        for sub in packet.subscriptions {
            guard policy.maySubscribe(clientID: clientID, username: username, filter: sub.filter) else {
                codes.append(.notAuthorized)
                continue
            }
            let subscription = StoredSubscription(filter: sub.filter, options: sub.options, identifier: identifier)
            var isNew = false
            for shard in shardIndexes(for: sub.filter) {
                if (try? await shards[shard].subscribe(clientID, subscription)) == true { isNew = true }
            }
            stored.append(subscription)
            codes.append(MQTTReasonCode(rawValue: sub.options.qos.rawValue))
            // Retained messages are not sent for shared subscriptions [MQTT-3.8.4-? / 4.8.2].
            let handling = sub.options.retainHandling
            if !sub.filter.isShared, handling == .sendOnSubscribe || (handling == .sendOnNewSubscribe && isNew) {
                let delivery = Delivery(
                    clientID: clientID, qos: sub.options.qos, subscriptionIdentifiers: identifier.map { [$0] } ?? [],
                    retainAsPublished: true)
                for message in await retainedMatching(sub.filter) {
                    retainedDeliveries.append(SessionDelivery(message: message, delivery: delivery, isRetainedDelivery: true))
                }
            }
        }
        try? await session.addSubscriptions(stored)
        return SubscribeResult(reasonCodes: codes, retained: retainedDeliveries)
    }

    public func unsubscribe(_ clientID: ClientID, _ packet: MQTTPacket.Unsubscribe) async -> [MQTTReasonCode] {
        guard let session = sessions.session(for: clientID) else {
            return packet.filters.map { _ in .noSubscriptionExisted }
        }
        for filter in packet.filters {
            for shard in shardIndexes(for: filter) { _ = try? await shards[shard].unsubscribe(clientID, filter) }
        }
        let existed = (try? await session.removeSubscriptions(packet.filters)) ?? []
        return existed.map { $0 ? .success : .noSubscriptionExisted }
    }

    public func sessionEnded(_ session: SessionActor, clientID: ClientID, subscriptions: [StoredSubscription]) async {
        guard sessions.remove(session, for: clientID) else { return }
        var touched = Set<Int>()
        for sub in subscriptions { touched.formUnion(shardIndexes(for: sub.filter)) }
        for shard in touched { try? await shards[shard].removeAll(clientID) }
    }

    // MARK: Placement

    func shardIndexes(for filter: TopicFilter) -> [Int] {
        guard let first = filter.literalFirstLevel else { return Array(shards.indices) }
        return [shardIndex(forFirstLevel: first)]
    }

    /// The topic shard of a topic (or literal filter) whose first level is `level`.
    func shardIndex(forFirstLevel level: Substring) -> Int {
        StableHash.shard(of: level.utf8, count: shards.count)
    }

    /// The retained store that holds `topic`'s retained message.
    func retainedStore(for topic: TopicName) -> RetainedStoreActor {
        retained[StableHash.shard(of: topic.value.utf8, count: retained.count)]
    }

    func retainedMatching(_ filter: TopicFilter) async -> [Message] {
        if !filter.hasWildcards, let topic = try? TopicName(validating: filter.filter) {
            return (try? await retainedStore(for: topic).match(filter)) ?? []
        }
        return await withTaskGroup(of: [Message].self) { group in
            for store in retained { group.addTask { (try? await store.match(filter)) ?? [] } }
            var all: [Message] = []
            for await part in group { all += part }
            return all
        }
    }
}
