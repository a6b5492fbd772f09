import MQTTCore

private typealias SubscriptionNode = TopicTrie<SubscriberSet>.Index

extension SubscriptionIndex {
    /// Every delivery a message published to `topic` needs [MQTT-3.3.4]:
    /// - one per client with matching non-shared subscriptions, at the maximum of their QoS [MQTT-3.3.4-2], with
    ///   all their subscription identifiers [MQTT-3.3.4-4] and Retain As Published when any asks for it; a No Local
    ///   subscription of the publisher itself does not count [MQTT-3.8.3-3];
    /// - one per matching shared group, to the member whose turn it is (round-robin), separate from the above.
    ///   With `isOnline`, the turn skips members whose client is offline as long as any member is online.
    ///
    /// `selection` limits the match to what the cluster's route table picked this node for: non-shared subscribers
    /// only when `direct`, and only the listed shared groups.
    ///
    /// Mutating because each matching shared group passes the turn to its next member.
    public mutating func match(
        _ topic: TopicName, publisher: ClientID?, isOnline: ((ClientID) -> Bool)? = nil,
        selection: RouteSelection = .everything
    ) -> [Delivery] {
        // Arrays stay unallocated until a second node (or a shared group) matches.
        var firstDirect: SubscriptionNode?
        var moreDirect: [SubscriptionNode] = []
        var sharedNodes: [SubscriptionNode] = []
        trie.forEachFilter(matching: topic) { node in
            if selection.direct, !trie.nodes[Int(node)].value.direct.isEmpty {
                if firstDirect == nil { firstDirect = node } else { moreDirect.append(node) }
            }
            if !trie.nodes[Int(node)].value.groups.isEmpty { sharedNodes.append(node) }
        }
        var deliveries: [Delivery] = []
        if let firstDirect {
            deliveries = collectDirect(firstDirect, moreDirect, publisher: publisher, reserving: sharedNodes.count)
        }
        for node in sharedNodes {
            trie.modify(node) { set in
                for group in set.groups.indices where selection.includes(set.groups[group].key) {
                    guard let member = set.groups[group].next(preferring: isOnline) else { continue }
                    deliveries.append(Delivery(clientID: member.clientID, entry: member.entry))
                }
            }
        }
        return deliveries
    }

    /// One delivery per client over the non-shared subscribers of the matching nodes. The largest node is copied
    /// out without any lookup; only the clients of the other nodes (usually few) go through a merge table, which
    /// each client of the largest node then consults.
    private func collectDirect(
        _ first: SubscriptionNode, _ more: [SubscriptionNode], publisher: ClientID?, reserving extra: Int
    ) -> [Delivery] {
        func direct(_ node: SubscriptionNode) -> [ClientID: SubscriberSet.Entry] {
            trie.nodes[Int(node)].value.direct
        }
        // No Local: the publisher's own subscription does not receive its message [MQTT-3.8.3-3].
        func isSuppressed(_ clientID: ClientID, _ entry: SubscriberSet.Entry) -> Bool {
            entry.options.noLocal && clientID == publisher
        }

        var largest = first
        for node in more where direct(node).count > direct(largest).count { largest = node }
        var others = DeliveryMerger()
        if !more.isEmpty {
            for node in [first] + more where node != largest {
                for (clientID, entry) in direct(node) where !isSuppressed(clientID, entry) {
                    others.add(Delivery(clientID: clientID, entry: entry))
                }
            }
        }

        let base = direct(largest)
        var deliveries: [Delivery] = []
        deliveries.reserveCapacity(base.count + others.count + extra)
        for (clientID, entry) in base where !isSuppressed(clientID, entry) {
            var delivery = Delivery(clientID: clientID, entry: entry)
            if !others.isEmpty, let other = others.take(clientID) { delivery.merge(other) }
            deliveries.append(delivery)
        }
        others.appendRemaining(to: &deliveries)
        return deliveries
    }
}

extension Delivery {
    fileprivate init(clientID: ClientID, entry: SubscriberSet.Entry) {
        self.init(
            clientID: clientID, qos: entry.options.qos, subscriptionIdentifiers: entry.identifier.map { [$0] } ?? [],
            retainAsPublished: entry.options.retainAsPublished)
    }

    /// Folds another matching subscription of the same client into this delivery.
    fileprivate mutating func merge(_ other: Delivery) {
        qos = max(qos, other.qos)
        subscriptionIdentifiers += other.subscriptionIdentifiers
        retainAsPublished = retainAsPublished || other.retainAsPublished
    }
}

/// A small table of deliveries keyed by client: merges deliveries of the same client, then hands each out once.
private struct DeliveryMerger {
    /// Up to this many entries, finding a client is a linear scan (cheaper than hashing the identifier).
    private static var linearLimit: Int { 8 }

    private var deliveries: [Delivery] = []
    private var taken: [Bool] = []
    /// Client -> position; built only once there are more than `linearLimit` entries.
    private var positions: [ClientID: Int] = [:]
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func add(_ delivery: Delivery) {
        if let position = position(of: delivery.clientID) {
            deliveries[position].merge(delivery)
            return
        }
        deliveries.append(delivery)
        taken.append(false)
        count += 1
        if !positions.isEmpty { positions[delivery.clientID] = deliveries.count - 1 }
    }

    /// The client's delivery, if any and not taken yet; it is taken.
    mutating func take(_ clientID: ClientID) -> Delivery? {
        guard let position = position(of: clientID), !taken[position] else { return nil }
        taken[position] = true
        count -= 1
        return deliveries[position]
    }

    func appendRemaining(to result: inout [Delivery]) {
        guard count > 0 else { return }
        for (position, delivery) in deliveries.enumerated() where !taken[position] { result.append(delivery) }
    }

    private mutating func position(of clientID: ClientID) -> Int? {
        if positions.isEmpty {
            if deliveries.count <= Self.linearLimit {
                return deliveries.firstIndex { $0.clientID == clientID }
            }
            positions.reserveCapacity(deliveries.count)
            for (position, delivery) in deliveries.enumerated() { positions[delivery.clientID] = position }
        }
        return positions[clientID]
    }
}
