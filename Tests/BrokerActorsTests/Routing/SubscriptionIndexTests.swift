@testable import BrokerActors
import MQTTCore
import Testing

/// A subscription in a table row.
struct Sub: Sendable, CustomStringConvertible {
    var client: ClientID
    var filter: TopicFilter
    var options: MQTTPacket.SubscriptionOptions
    var identifier: UInt32?

    init(_ client: ClientID, _ filter: TopicFilter, _ qos: MQTTQoS = .atMostOnce, id: UInt32? = nil,
         noLocal: Bool = false, rap: Bool = false) {
        self.client = client
        self.filter = filter
        self.options = .init(qos: qos, noLocal: noLocal, retainAsPublished: rap)
        self.identifier = id
    }

    var description: String { "\(client)@\(filter)" }
}

/// Subscriptions, one publish, the deliveries expected.
struct DeliveryCase: CustomTestStringConvertible, Sendable {
    var name: String
    var subs: [Sub]
    var topic: TopicName
    var publisher: ClientID?
    var expected: [DeliveryKey]

    var testDescription: String { name }
}


let aggregationCases: [DeliveryCase] = [
    .init(name: "max QoS over overlapping filters [MQTT-3.3.4-2]",
          subs: [.init("c1", "a/+", .atMostOnce), .init("c1", "a/b", .exactlyOnce), .init("c1", "#", .atLeastOnce)],
          topic: "a/b", expected: [.init("c1", .exactlyOnce)]),
    .init(name: "identifiers of every matching subscription [MQTT-3.3.4-4]",
          subs: [.init("c1", "a/+", id: 1), .init("c1", "a/b", id: 2), .init("c1", "#"), .init("c1", "b/#", id: 9)],
          topic: "a/b", expected: [.init("c1", .atMostOnce, [1, 2])]),
    .init(name: "retain as published when any asks",
          subs: [.init("c1", "a/+", rap: false), .init("c1", "+/b", rap: true)],
          topic: "a/b", expected: [.init("c1", .atMostOnce, [], true)]),
    .init(name: "no retain as published when none asks",
          subs: [.init("c1", "a/+"), .init("c1", "+/b")],
          topic: "a/b", expected: [.init("c1", .atMostOnce)]),
    .init(name: "one delivery per client",
          subs: [.init("c1", "a/b", .atLeastOnce, id: 1), .init("c2", "a/+", .exactlyOnce), .init("c2", "#", id: 3),
                 .init("c3", "b")],
          topic: "a/b", expected: [.init("c1", .atLeastOnce, [1]), .init("c2", .exactlyOnce, [3])]),
    .init(name: "many clients on many filters (hashed merge)",
          subs: (0..<12).flatMap { i -> [Sub] in
              let c = ClientID(stringLiteral: "c\(i)")
              return [.init(c, "x/+", id: UInt32(i + 1)), .init(c, "x/y", .atLeastOnce), .init(c, "#")]
          },
          topic: "x/y", expected: (0..<12).map { DeliveryKey("c\($0)", .atLeastOnce, [UInt32($0 + 1)]) }),
    .init(name: "a client first seen after the hashed merge starts is merged later",
          subs: (0..<10).flatMap { i -> [Sub] in
              let c = ClientID(stringLiteral: "c\(i)")
              return [.init(c, "#"), .init(c, "x/+"), .init(c, "x/y")]
          } + [.init("late1", "x/+", id: 1), .init("late1", "x/y", id: 2), .init("late2", "#", id: 3),
               .init("late2", "x/y", id: 4), .init("late3", "#", id: 5), .init("late3", "x/+", id: 6)],
          topic: "x/y",
          expected: (0..<10).map { DeliveryKey("c\($0)", .atMostOnce) }
              + [.init("late1", .atMostOnce, [1, 2]), .init("late2", .atMostOnce, [3, 4]),
                 .init("late3", .atMostOnce, [5, 6])]),
    .init(name: "No Local skips the publisher [MQTT-3.8.3-3]",
          subs: [.init("c1", "a", .atLeastOnce, noLocal: true)], topic: "a", publisher: "c1", expected: []),
    .init(name: "No Local delivers to others",
          subs: [.init("c1", "a", .atLeastOnce, noLocal: true), .init("c2", "a", noLocal: true)],
          topic: "a", publisher: "c2", expected: [.init("c1", .atLeastOnce)]),
    .init(name: "No Local with a broker message (no publisher)",
          subs: [.init("c1", "a", noLocal: true)], topic: "a", publisher: nil, expected: [.init("c1", .atMostOnce)]),
    .init(name: "without No Local the publisher receives its own message",
          subs: [.init("c1", "a")], topic: "a", publisher: "c1", expected: [.init("c1", .atMostOnce)]),
    .init(name: "No Local subscription drops out of the aggregate only",
          subs: [.init("c1", "a/+", .exactlyOnce, id: 1, noLocal: true, rap: true), .init("c1", "a/b", id: 2)],
          topic: "a/b", publisher: "c1", expected: [.init("c1", .atMostOnce, [2])]),
    .init(name: "shared and non-shared of one client are two deliveries",
          subs: [.init("c1", "$share/g/a", .atLeastOnce, id: 1), .init("c1", "a", .exactlyOnce, id: 2)],
          topic: "a", expected: [.init("c1", .atLeastOnce, [1]), .init("c1", .exactlyOnce, [2])]),
    .init(name: "shared groups by name: $share/g1, $share/g2 and $queue are three groups",
          subs: [.init("c1", "$share/g1/a"), .init("c2", "$share/g2/a"), .init("c3", "$queue/a")],
          topic: "a", expected: [.init("c1", .atMostOnce), .init("c2", .atMostOnce), .init("c3", .atMostOnce)]),
    .init(name: "shared groups by filter: same name, other filter is another group",
          subs: [.init("c1", "$share/g/a"), .init("c2", "$share/g/+")],
          topic: "a", expected: [.init("c1", .atMostOnce), .init("c2", .atMostOnce)]),
    .init(name: "shared member keeps its own options",
          subs: [.init("c1", "$share/g/a/#", .exactlyOnce, id: 7, rap: true)],
          topic: "a/b", expected: [.init("c1", .exactlyOnce, [7], true)]),
    .init(name: "shared subscription honours the $ rule",
          subs: [.init("c1", "$share/g/#"), .init("c2", "$queue/+/x"), .init("c3", "$share/g/$SYS/#")],
          topic: "$SYS/x", expected: [.init("c3", .atMostOnce)]),
]

extension Routing {
    @Suite("SubscriptionIndex")
    struct SubscriptionIndexTests {
        @Test("deliveries", arguments: aggregationCases)
        func deliveries(_ c: DeliveryCase) {
            var index = SubscriptionIndex()
            for s in c.subs {
                index.subscribe(s.client, filter: s.filter, options: s.options, identifier: s.identifier)
            }
            #expect(keys(index.match(c.topic, publisher: c.publisher)) == c.expected.sorted())
        }

        @Test("a shared group delivers each message to exactly one member, round-robin",
              arguments: [(1, 10), (2, 10), (3, 10), (3, 100), (7, 100), (16, 1000)])
        func roundRobin(members: Int, messages: Int) {
            var index = SubscriptionIndex()
            let q0 = MQTTPacket.SubscriptionOptions(qos: .atMostOnce)
            for m in 0..<members {
                index.subscribe(.init(stringLiteral: "m\(m)"), filter: "$share/g/t/+", options: q0, identifier: nil)
            }
            index.subscribe("other", filter: "t/+", options: q0, identifier: nil)
            var counts: [ClientID: Int] = [:]
            for i in 0..<messages {
                let deliveries = index.match(.init(stringLiteral: "t/\(i % 3)"), publisher: nil)
                #expect(deliveries.count == 2)
                for d in deliveries where d.clientID != "other" { counts[d.clientID, default: 0] += 1 }
            }
            #expect(counts.count == min(members, messages))
            for (_, n) in counts { #expect(abs(n - messages / members) <= 1) }
            #expect(counts.values.reduce(0, +) == messages)
        }

        @Test("round-robin stays fair as members leave and join")
        func roundRobinChurn() {
            var index = SubscriptionIndex()
            let group: TopicFilter = "$queue/jobs"
            let q1 = MQTTPacket.SubscriptionOptions(qos: .atLeastOnce)
            for m in ["a", "b", "c"] {
                index.subscribe(ClientID(stringLiteral: m), filter: group, options: q1, identifier: nil)
            }
            func take(_ n: Int) -> [String] {
                (0..<n).flatMap { _ in index.match("jobs", publisher: nil).map(\.clientID.value) }
            }
            #expect(take(4) == ["a", "b", "c", "a"])
            index.unsubscribe("b", filter: group)  // "b" had the turn: it passes to "c"
            #expect(take(3) == ["c", "a", "c"])
            index.subscribe("d", filter: group, options: q1, identifier: nil)
            #expect(take(2) == ["a", "c"])
            index.removeAll(for: "a")  // before the turn, which stays with "d"
            #expect(take(4) == ["d", "c", "d", "c"])
            index.removeAll(for: "d")  // the last member had the turn: it wraps around to "c"
            #expect(take(2) == ["c", "c"])
            index.removeAll(for: "c")
            #expect(index.match("jobs", publisher: nil).isEmpty)
            #expect(index.nodeCount == 1)
        }

        @Test("subscribing again to the same filter replaces the options [MQTT-3.8.4-3]")
        func replacement() {
            var index = SubscriptionIndex()
            let added = index.subscribe("c1", filter: "a/+", options: .init(qos: .atMostOnce), identifier: 1)
            #expect(added)
            let addedAgain = index.subscribe(
                "c1", filter: "a/+", options: .init(qos: .exactlyOnce, retainAsPublished: true), identifier: 5)
            #expect(!addedAgain)
            let addedOther = index.subscribe("c1", filter: "a/#", options: .init(qos: .atMostOnce), identifier: nil)
            #expect(addedOther)
            #expect(index.subscriptionCount == 2)
            #expect(keys(index.match("a/b", publisher: nil)) == [DeliveryKey("c1", .exactlyOnce, [5], true)])
            #expect(index.subscriptions(of: "c1").map(\.filter) == ["a/#", "a/+"])
            #expect(index.subscriptions(of: "c1").last?.options == .init(qos: .exactlyOnce, retainAsPublished: true))

            // The same for a shared member: still one member, new options.
            let sharedAdded = index.subscribe(
                "c2", filter: "$share/g/x", options: .init(qos: .atMostOnce), identifier: nil)
            #expect(sharedAdded)
            let sharedAddedAgain = index.subscribe(
                "c2", filter: "$share/g/x", options: .init(qos: .atLeastOnce), identifier: 3)
            #expect(!sharedAddedAgain)
            for _ in 0..<3 { #expect(keys(index.match("x", publisher: nil)) == [DeliveryKey("c2", .atLeastOnce, [3])]) }
            #expect(index.subscriptionCount == 3)
        }

        @Test("unsubscribe and removeAll")
        func unsubscribe() {
            var index = SubscriptionIndex()
            let q0 = MQTTPacket.SubscriptionOptions(qos: .atMostOnce)
            index.subscribe("c1", filter: "a/b", options: q0, identifier: nil)
            index.subscribe("c1", filter: "a/+", options: q0, identifier: nil)
            index.subscribe("c1", filter: "$share/g/a/b", options: q0, identifier: nil)
            index.subscribe("c2", filter: "a/b", options: q0, identifier: nil)
            #expect(index.filters.map(\.rawValue) == ["$share/g/a/b", "a/+", "a/b"])
            #expect(index.clientCount == 2)

            let removed = index.unsubscribe("c1", filter: "a/b")
            #expect(removed)
            let removedTwice = index.unsubscribe("c1", filter: "a/b")
            #expect(!removedTwice)
            let removedUnknown = index.unsubscribe("c3", filter: "a/b")
            #expect(!removedUnknown)
            #expect(index.filters.map(\.rawValue) == ["$share/g/a/b", "a/+", "a/b"])  // c2 still has a/b
            #expect(keys(index.match("a/b", publisher: nil))
                == [DeliveryKey("c1", .atMostOnce), DeliveryKey("c1", .atMostOnce), DeliveryKey("c2", .atMostOnce)])

            index.removeAll(for: "c1")
            #expect(index.subscriptions(of: "c1").isEmpty)
            #expect(index.filters.map(\.rawValue) == ["a/b"])
            #expect(keys(index.match("a/b", publisher: nil)) == [DeliveryKey("c2", .atMostOnce)])
            #expect(index.subscriptionCount == 1)
            #expect(index.nodeCount == 3)  // root, a, a/b

            index.removeAll(for: "c2")
            index.removeAll(for: "c2")
            #expect(index.subscriptionCount == 0)
            #expect(index.clientCount == 0)
            #expect(index.filters.isEmpty)
            #expect(index.nodeCount == 1)
        }

        @Test("filters that differ only in Unicode normalization are different subscriptions [MQTT-4.7.3-4]")
        func byteExactFilters() {
            var index = SubscriptionIndex()
            let composedAdded = index.subscribe(
                "c1", filter: "caf\u{E9}", options: .init(qos: .atMostOnce), identifier: 1)
            #expect(composedAdded)
            let decomposedAdded = index.subscribe(
                "c1", filter: "cafe\u{301}", options: .init(qos: .atMostOnce), identifier: 2)
            #expect(decomposedAdded)
            #expect(index.subscriptionCount == 2)
            #expect(keys(index.match("cafe\u{301}", publisher: nil)) == [DeliveryKey("c1", .atMostOnce, [2])])
        }
    }
}
