import Distributed
import MQTTCore

/// One shard of the topic space on this node: the index of local subscribers for the filters placed here. A filter
/// whose first level is a literal lives in the shard of that level's hash; a filter that starts with a wildcard
/// lives in every shard. So a publish needs exactly one shard.
public distributed actor TopicShardActor {
    public typealias ActorSystem = BrokerActorSystem

    public let index: Int
    private var subscriptions = SubscriptionIndex()
    private let sessions: SessionDirectory

    public init(index: Int, sessions: SessionDirectory, actorSystem: ActorSystem) {
        self.actorSystem = actorSystem
        self.index = index
        self.sessions = sessions
    }

    /// Returns true when the subscription is new (not a replacement).
    public distributed func subscribe(_ clientID: ClientID, _ subscription: StoredSubscription) -> Bool {
        subscriptions.subscribe(
            clientID, filter: subscription.filter, options: subscription.options, identifier: subscription.identifier)
    }

    public distributed func unsubscribe(_ clientID: ClientID, _ filter: TopicFilter) -> Bool {
        subscriptions.unsubscribe(clientID, filter: filter)
    }

    public distributed func removeAll(_ clientID: ClientID) {
        subscriptions.removeAll(for: clientID)
    }

    /// Matches each message and hands every matching session its messages in one call. Returns, per message, how
    /// many sessions it reached. The calls to sessions finish before this returns, so a publisher that awaits it
    /// has its messages accepted by every subscriber's session (the basis of PUBACK) and in order.
    /// Each item's selection says what this node delivers of it (from the cluster route table).
    public distributed func route(_ items: [RoutedMessage]) async -> [Int] {
        var perSession: [ClientID: [SessionDelivery]] = [:]
        var counts: [Int] = []
        counts.reserveCapacity(items.count)
        for item in items {
            let message = item.message
            var deliveries = subscriptions.match(
                message.topic, publisher: message.publisher, isOnline: sessions.isOnline, selection: item.selection)
            if let origin = item.onlyAdoptedFrom {
                deliveries.removeAll { !sessions.wasAdopted($0.clientID, from: origin) }
            }
            counts.append(deliveries.count)
            for delivery in deliveries {
                perSession[delivery.clientID, default: []].append(SessionDelivery(message: message, delivery: delivery))
            }
        }
        if perSession.count == 1, let (clientID, items) = perSession.first {
            if let session = sessions.session(for: clientID) { try? await session.deliver(items) }
        } else if !perSession.isEmpty {
            let targets = perSession.compactMap { clientID, items in sessions.session(for: clientID).map { ($0, items) } }
            await withTaskGroup(of: Void.self) { group in
                for (session, items) in targets {
                    group.addTask { try? await session.deliver(items) }
                }
            }
        }
        return counts
    }

    public distributed func subscriptionCount() -> Int { subscriptions.subscriptionCount }
}
