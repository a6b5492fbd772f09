import ClusterTransport
import MQTTCore

extension Broker {
    public struct SubscribeResult: Sendable {
        public var reasonCodes: [MQTTReasonCode]
        /// Retained messages to send after SUBACK.
        public var retained: [SessionDelivery]
    }

    /// Checks the policy, stores the allowed subscriptions in the session (which indexes them on its own node),
    /// then gathers the retained messages each subscription's Retain Handling asks for.
    public func subscribe(
        _ session: SessionActor, clientID: ClientID, username: String?, _ packet: MQTTPacket.Subscribe
    ) async -> SubscribeResult {
        let identifier = packet.properties.subscriptionIdentifiers.first
        var codes: [MQTTReasonCode] = []
        var allowed: [(position: Int, subscription: StoredSubscription)] = []
        for sub in packet.subscriptions {
            guard policy.maySubscribe(clientID: clientID, username: username, filter: sub.filter) else {
                codes.append(.notAuthorized)
                continue
            }
            allowed.append((codes.count, StoredSubscription(filter: sub.filter, options: sub.options, identifier: identifier)))
            codes.append(MQTTReasonCode(rawValue: sub.options.qos.rawValue))
        }
        guard !allowed.isEmpty else { return SubscribeResult(reasonCodes: codes, retained: []) }
        guard let isNew = try? await session.subscribe(allowed.map(\.subscription)), isNew.count == allowed.count else {
            for item in allowed { codes[item.position] = .unspecifiedError }
            return SubscribeResult(reasonCodes: codes, retained: [])
        }
        var retainedDeliveries: [SessionDelivery] = []
        for (item, new) in zip(allowed, isNew) {
            let sub = item.subscription
            // Retained messages are not sent for shared subscriptions [MQTT-4.8.2].
            let handling = sub.options.retainHandling
            guard !sub.filter.isShared, handling == .sendOnSubscribe || (handling == .sendOnNewSubscribe && new) else {
                continue
            }
            let delivery = Delivery(
                clientID: clientID, qos: sub.options.qos, subscriptionIdentifiers: identifier.map { [$0] } ?? [],
                retainAsPublished: true)
            for message in await retainedMatching(sub.filter) {
                retainedDeliveries.append(SessionDelivery(message: message, delivery: delivery, isRetainedDelivery: true))
            }
        }
        return SubscribeResult(reasonCodes: codes, retained: retainedDeliveries)
    }

    public func unsubscribe(_ session: SessionActor, _ packet: MQTTPacket.Unsubscribe) async -> [MQTTReasonCode] {
        guard let existed = try? await session.unsubscribe(packet.filters) else {
            return packet.filters.map { _ in .unspecifiedError }
        }
        return existed.map { $0 ? .success : .noSubscriptionExisted }
    }

    // MARK: BrokerServices (called by sessions of this node)

    /// Indexes a local session's subscriptions in the topic shards; a filter new to this node becomes a cluster
    /// route, and this returns once every other node has it. Returns, per subscription, whether it is new.
    public func indexSubscriptions(_ clientID: ClientID, _ subscriptions: [StoredSubscription]) async -> [Bool] {
        var result: [Bool] = []
        var announce: UInt64?
        for subscription in subscriptions {
            var isNew = false
            for shard in shardRouter.shardIndexes(for: subscription.filter) {
                if (try? await shards[shard].subscribe(clientID, subscription)) == true { isNew = true }
            }
            if isNew, let version = routes.subscribeLocal(subscription.filter) { announce = version }
            result.append(isNew)
        }
        if let announce { await announcer.awaitAnnounced(announce) }
        return result
    }

    /// Removes a local session's subscriptions from the topic shards and, for filters no local session has any
    /// more, from the cluster routes.
    public func unindexSubscriptions(_ clientID: ClientID, _ filters: [TopicFilter]) async {
        var announce: UInt64?
        for filter in filters {
            var existed = false
            for shard in shardRouter.shardIndexes(for: filter) {
                if (try? await shards[shard].unsubscribe(clientID, filter)) == true { existed = true }
            }
            if existed, let version = routes.unsubscribeLocal(filter) { announce = version }
        }
        if let announce { await announcer.awaitAnnounced(announce) }
    }

    public func sessionEnded(_ session: SessionActor, clientID: ClientID, subscriptions: [StoredSubscription]) async {
        guard sessions.remove(session, for: clientID) else { return }
        await unindexSubscriptions(clientID, subscriptions.map(\.filter))
    }
}
