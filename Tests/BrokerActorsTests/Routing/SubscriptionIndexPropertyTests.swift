@testable import BrokerActors
import MQTTCore
import Testing

/// The brute-force model of a subscription index: a list of subscriptions, each matched with `TopicFilter.matches`.
struct ReferenceSubscriptions {
    struct Entry {
        var client: ClientID
        var filter: TopicFilter
        var options: MQTTPacket.SubscriptionOptions
        var identifier: UInt32?

        var key: DeliveryKey {
            DeliveryKey(client.value, options.qos, identifier.map { [$0] } ?? [], options.retainAsPublished)
        }
    }

    var entries: [Entry] = []

    mutating func subscribe(_ e: Entry) -> Bool {
        if let i = entries.firstIndex(where: { $0.client == e.client && $0.filter.rawValue == e.filter.rawValue }) {
            entries[i] = e
            return false
        }
        entries.append(e)
        return true
    }

    mutating func unsubscribe(_ client: ClientID, _ filter: TopicFilter) -> Bool {
        guard let i = entries.firstIndex(where: { $0.client == client && $0.filter.rawValue == filter.rawValue })
        else { return false }
        entries.remove(at: i)
        return true
    }

    mutating func removeAll(for client: ClientID) { entries.removeAll { $0.client == client } }

    /// One aggregated delivery per client over its matching non-shared subscriptions.
    func nonShared(_ topic: TopicName, publisher: ClientID?) -> [DeliveryKey] {
        var byClient: [ClientID: DeliveryKey] = [:]
        for e in entries where !e.filter.isShared && e.filter.matches(topic) {
            if e.options.noLocal, e.client == publisher { continue }
            guard var d = byClient[e.client] else {
                byClient[e.client] = e.key
                continue
            }
            d.qos = max(d.qos, e.options.qos.rawValue)
            d.identifiers = (d.identifiers + (e.identifier.map { [$0] } ?? [])).sorted()
            d.retainAsPublished = d.retainAsPublished || e.options.retainAsPublished
            byClient[e.client] = d
        }
        return Array(byClient.values)
    }

    /// The members of every shared group (share name + filter proper) whose filter matches.
    func matchingGroups(_ topic: TopicName) -> [[Entry]] {
        var groups: [String: [Entry]] = [:]
        for e in entries where e.filter.isShared && e.filter.matches(topic) {
            groups["\(e.filter.shareGroup!)\u{0}\(e.filter.filter)", default: []].append(e)
        }
        return Array(groups.values)
    }

    var subscriptionsByClient: [ClientID: [SubscriptionIndex.Subscription]] {
        Dictionary(grouping: entries, by: \.client).mapValues { list in
            list.map {
                SubscriptionIndex.Subscription(filter: $0.filter, options: $0.options, identifier: $0.identifier)
            }
                .sorted { $0.filter.rawValue < $1.filter.rawValue }
        }
    }

    /// Trie nodes the live filters need, root included.
    var expectedNodeCount: Int { 1 + distinctPrefixes(of: entries.map(\.filter.levels)) }
}

/// Whether `actual` is exactly the reference's non-shared deliveries plus one delivery for each matching group, from
/// one of that group's members.
func agrees(
    _ actual: [Delivery], with reference: ReferenceSubscriptions, _ topic: TopicName, _ publisher: ClientID?
) -> Bool {
    var remaining = keys(actual)
    for expected in reference.nonShared(topic, publisher: publisher) {
        guard let i = remaining.firstIndex(of: expected) else { return false }
        remaining.remove(at: i)
    }
    let groups = reference.matchingGroups(topic)
    guard remaining.count == groups.count else { return false }
    // Backtracking assignment of the remaining deliveries to the groups (both are small).
    var used = [Bool](repeating: false, count: remaining.count)
    func assign(_ g: Int) -> Bool {
        if g == groups.count { return true }
        for j in remaining.indices where !used[j] && groups[g].contains(where: { $0.key == remaining[j] }) {
            used[j] = true
            if assign(g + 1) { return true }
            used[j] = false
        }
        return false
    }
    return assign(0)
}

extension Routing {
    @Suite("SubscriptionIndex properties")
    struct SubscriptionIndexPropertyTests {
        /// Few clients (many overlaps per client) for even seeds; more than the collector's linear-scan limit for odd.
        static func clients(_ seed: UInt64) -> Int { seed.isMultiple(of: 2) ? 4 : 14 }
        /// Every topic of up to three levels over the alphabet; four-level topics are sampled.
        static let smallTopics = allTopics(maxLevels: 3)

        static func topicsToCheck(_ gen: inout RoutingGenerator) -> [TopicName] {
            smallTopics + (0..<16).map { _ in gen.topic() }
        }

        @Test("match agrees with a brute-force scan of all subscriptions", arguments: 0..<40 as Range<UInt64>)
        func matchAgreesWithBruteForce(seed: UInt64) {
            var gen = RoutingGenerator(seed: seed)
            let clients = Self.clients(seed)
            var index = SubscriptionIndex()
            var reference = ReferenceSubscriptions()
            for _ in 0..<gen.int(1...60) {
                let filter = gen.filter()
                let e = ReferenceSubscriptions.Entry(
                    client: gen.client(of: clients), filter: filter, options: gen.options(shared: filter.isShared),
                    identifier: gen.identifier())
                let isNew = index.subscribe(e.client, filter: e.filter, options: e.options, identifier: e.identifier)
                #expect(isNew == reference.subscribe(e), "seed \(seed)")
            }
            for topic in Self.topicsToCheck(&gen) {
                let publisher: ClientID? = gen.chance(0.2) ? nil : gen.client(of: clients)
                let actual = index.match(topic, publisher: publisher)
                #expect(
                    agrees(actual, with: reference, topic, publisher),
                    "seed \(seed) topic \(topic) got \(keys(actual))")
            }
        }

        @Test("random subscribe/unsubscribe/removeAll churn behaves like the reference and leaves no nodes",
              arguments: 0..<40 as Range<UInt64>)
        func churn(seed: UInt64) {
            var gen = RoutingGenerator(seed: seed &+ 1_000)
            let clients = Self.clients(seed)
            var index = SubscriptionIndex()
            var reference = ReferenceSubscriptions()

            func checkState(_ step: String) {
                #expect(index.subscriptionCount == reference.entries.count, "seed \(seed) \(step)")
                #expect(index.nodeCount == reference.expectedNodeCount, "seed \(seed) \(step)")
                let byClient = reference.subscriptionsByClient
                #expect(index.clientCount == byClient.count, "seed \(seed) \(step)")
                for (client, subs) in byClient {
                    #expect(index.subscriptions(of: client) == subs, "seed \(seed) \(step) \(client)")
                }
                let rawFilters = Set(reference.entries.map(\.filter.rawValue)).sorted()
                #expect(index.filters.map(\.rawValue) == rawFilters, "seed \(seed) \(step)")
            }

            for step in 0..<120 {
                let client = gen.client(of: clients)
                switch gen.int(0...9) {
                case 0...5:
                    let filter = gen.filter()
                    let e = ReferenceSubscriptions.Entry(
                        client: client, filter: filter, options: gen.options(shared: filter.isShared),
                        identifier: gen.identifier())
                    let isNew = index.subscribe(client, filter: filter, options: e.options, identifier: e.identifier)
                    #expect(isNew == reference.subscribe(e), "seed \(seed) step \(step)")
                case 6...8:
                    // Mostly a filter the client has, sometimes a random one.
                    let own = reference.entries.filter { $0.client == client }.map(\.filter)
                    let filter = own.isEmpty || gen.chance(0.2) ? gen.filter() : gen.pick(own)
                    #expect(index.unsubscribe(client, filter: filter) == reference.unsubscribe(client, filter),
                            "seed \(seed) step \(step)")
                default:
                    index.removeAll(for: client)
                    reference.removeAll(for: client)
                }
                if step % 40 == 39 {
                    checkState("step \(step)")
                    for topic in Self.topicsToCheck(&gen) {
                        let publisher = gen.client(of: clients)
                        #expect(agrees(index.match(topic, publisher: publisher), with: reference, topic, publisher),
                                "seed \(seed) step \(step) topic \(topic)")
                    }
                }
            }

            // Remove everything, half by unsubscribe and half by removeAll: nothing may be left behind.
            for e in reference.entries where gen.chance(0.5) {
                let removed = index.unsubscribe(e.client, filter: e.filter)
                #expect(removed, "seed \(seed)")
            }
            for c in 0..<clients { index.removeAll(for: try! ClientID(validating: "c\(c)")) }
            reference.entries.removeAll()
            checkState("after removing everything")
            #expect(index.nodeCount == 1, "seed \(seed)")
            #expect(index.trie.nodes.count == 1, "seed \(seed): the arena is given back")
        }
    }
}
