import MQTTCore

/// The subscriptions of one topic shard: which client sessions subscribe to which filters, and for a published
/// topic, which deliveries it needs.
///
/// A pure value type. Filters live in a trie keyed by level (`+` and `#` in their own slots), so matching a topic
/// costs the nodes the topic actually reaches, not the number of subscriptions; a reverse map from client to its
/// subscriptions makes `removeAll(for:)` and `subscriptions(of:)` cost that client's subscriptions only.
public struct SubscriptionIndex: Sendable {
    /// One subscription as stored: the filter exactly as subscribed, its options and its identifier.
    public struct Subscription: Sendable, Hashable {
        public var filter: TopicFilter
        public var options: MQTTPacket.SubscriptionOptions
        public var identifier: UInt32?

        public init(filter: TopicFilter, options: MQTTPacket.SubscriptionOptions, identifier: UInt32? = nil) {
            self.filter = filter
            self.options = options
            self.identifier = identifier
        }
    }

    private struct FilterUse: Sendable {
        var filter: TopicFilter
        var count: Int
    }

    var trie = TopicTrie<SubscriberSet>()
    /// Each client's subscriptions keyed by the raw filter (a subscription's identity [MQTT-3.8.4-3]).
    private var byClient: [ClientID: [UTF8Key: Subscription]] = [:]
    /// How many clients subscribe to each distinct raw filter.
    private var filterUses: [UTF8Key: FilterUse] = [:]
    public private(set) var subscriptionCount = 0

    public init() {}

    /// Adds the subscription of `clientID` to `filter`, or replaces its options and identifier when the client
    /// already has a subscription with the same raw filter [MQTT-3.8.4-3]. Returns true when it is new, which
    /// Retain Handling 1 needs [MQTT-3.3.1-10].
    @discardableResult
    public mutating func subscribe(
        _ clientID: ClientID, filter: TopicFilter, options: MQTTPacket.SubscriptionOptions, identifier: UInt32?
    ) -> Bool {
        let raw = UTF8Key(filter.rawValue)
        let subscription = Subscription(filter: filter, options: options, identifier: identifier)
        let isNew = byClient[clientID, default: [:]].updateValue(subscription, forKey: raw) == nil

        let node = trie.insert(filter.levels)
        let entry = SubscriberSet.Entry(options: options, identifier: identifier)
        trie.modify(node) { set in
            if let group = filter.shareGroup {
                set.addShared(group: UTF8Key(group), filter: filter.filter, member: .init(clientID: clientID, rawFilter: raw, entry: entry))
            } else {
                set.direct[clientID] = entry
            }
        }
        if isNew {
            subscriptionCount += 1
            filterUses[raw, default: FilterUse(filter: filter, count: 0)].count += 1
        }
        return isNew
    }

    /// Removes the subscription of `clientID` with this raw filter. Returns false when there was none.
    @discardableResult
    public mutating func unsubscribe(_ clientID: ClientID, filter: TopicFilter) -> Bool {
        let raw = UTF8Key(filter.rawValue)
        guard byClient[clientID]?.removeValue(forKey: raw) != nil else { return false }
        if byClient[clientID]?.isEmpty == true { byClient[clientID] = nil }
        detach(clientID, filter: filter, raw: raw)
        return true
    }

    /// Removes every subscription of the client (its session ended).
    public mutating func removeAll(for clientID: ClientID) {
        guard let subscriptions = byClient.removeValue(forKey: clientID) else { return }
        for (raw, subscription) in subscriptions {
            detach(clientID, filter: subscription.filter, raw: raw)
        }
    }

    /// The client's subscriptions, ordered by raw filter.
    public func subscriptions(of clientID: ClientID) -> [Subscription] {
        guard let subscriptions = byClient[clientID] else { return [] }
        return subscriptions.values.sorted { $0.filter.rawValue < $1.filter.rawValue }
    }

    /// The distinct raw filters that at least one client subscribes to, ordered.
    public var filters: [TopicFilter] {
        filterUses.values.map(\.filter).sorted { $0.rawValue < $1.rawValue }
    }

    /// The clients with at least one subscription.
    public var clientCount: Int { byClient.count }

    /// Live trie nodes including the root (1 when empty); for tests that check pruning.
    var nodeCount: Int { trie.nodeCount }

    /// Takes the subscription out of the trie (the reverse map is already updated) and prunes empty nodes.
    private mutating func detach(_ clientID: ClientID, filter: TopicFilter, raw: UTF8Key) {
        let levels = filter.levels
        if let node = trie.find(levels) {
            trie.modify(node) { set in
                if let group = filter.shareGroup {
                    set.removeShared(group: UTF8Key(group), clientID: clientID, rawFilter: raw)
                } else {
                    set.direct[clientID] = nil
                }
            }
            trie.prune(levels)
        }
        subscriptionCount -= 1
        if let use = filterUses[raw], use.count > 1 {
            filterUses[raw]!.count -= 1
        } else {
            filterUses[raw] = nil
        }
    }
}
