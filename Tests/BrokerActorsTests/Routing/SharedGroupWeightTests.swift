import ClusterTransport
import MQTTCore
import Testing

@testable import BrokerActors

extension Routing {
    /// Shared groups are balanced per member across the cluster: a node weighs as many members as it announces,
    /// and smooth weighted round-robin gives each node exactly its share of every cycle.
    @Suite("Routing.SharedGroupWeights")
    struct SharedGroupWeightTests {
        typealias T = RouteTableTests
        static let key = SharedGroupKey(group: "g", filter: "t")

        @Test("a node with two members gets two messages in three, interleaved")
        func weightsFollowMembers() {
            var table = RouteTable()
            table.add("$share/g/t", node: T.n1, members: 2)
            table.add("$share/g/t", node: T.n2, members: 1)
            let picked = T.picks(&table, "t", Self.key, calls: 30)
            #expect(T.counts(picked) == [T.n1: 20, T.n2: 10])
            // Interleaved: n2 never waits more than two messages.
            #expect(!zip(picked, zip(picked.dropFirst(), picked.dropFirst(2))).contains { $0 == T.n1 && $1.0 == T.n1 && $1.1 == T.n1 })
        }

        @Test("a new member count takes effect at once, with exact shares from the next message")
        func weightUpdate() {
            var table = RouteTable()
            table.add("$share/g/t", node: T.n1, members: 3)
            table.add("$share/g/t", node: T.n2, members: 1)
            _ = T.picks(&table, "t", Self.key, calls: 5)
            #expect(table.add("$share/g/t", node: T.n1, members: 1) == false)  // an update, not a new route
            #expect(T.counts(T.picks(&table, "t", Self.key, calls: 10)) == [T.n1: 5, T.n2: 5])
        }

        @Test("ClusterRoutes announces every member count change of a shared filter, transitions only otherwise")
        func announcements() {
            let routes = ClusterRoutes(local: T.n1)
            let shared: TopicFilter = "$share/g/t"
            #expect(routes.subscribeLocal(shared) == 1)
            #expect(routes.subscribeLocal(shared) == 2)
            #expect(routes.subscribeLocal("plain/t") == 3)
            #expect(routes.subscribeLocal("plain/t") == nil)
            #expect(routes.unsubscribeLocal(shared) == 4)
            let (changes, upTo) = try! #require(routes.changes(after: 0))
            #expect(upTo == 4)
            #expect(changes == [
                RouteChange(filter: "$share/g/t", added: true, members: 1),
                RouteChange(filter: "$share/g/t", added: true, members: 2),
                RouteChange(filter: "plain/t", added: true, members: 1),
                RouteChange(filter: "$share/g/t", added: true, members: 1),
            ])
            #expect(routes.localMembers() == ["$share/g/t": 1])
            #expect(routes.unsubscribeLocal(shared) == 5)
            #expect(routes.localMembers() == [:])
        }

        @Test("a peer's announced counts weigh it in the group; a full synchronisation carries them")
        func peerWeights() {
            let routes = ClusterRoutes(local: T.n1)
            let peer = NodeID(name: T.n2, incarnation: Incarnation(rawValue: 1))
            _ = routes.subscribeLocal("$share/g/t")
            routes.synchronise(from: peer, version: 0, filters: ["$share/g/t"], members: ["$share/g/t": 3])
            var counts: [NodeName: Int] = [:]
            for _ in 0..<40 {
                for (node, selection) in routes.match("t") where selection.groups?.contains(Self.key) == true {
                    counts[node, default: 0] += 1
                }
            }
            #expect(counts == [T.n1: 10, T.n2: 30])
            #expect(routes.apply(from: peer, base: 0, changes: [RouteChange(filter: "$share/g/t", added: true, members: 1)]))
            counts = [:]
            for _ in 0..<40 {
                for (node, selection) in routes.match("t") where selection.groups?.contains(Self.key) == true {
                    counts[node, default: 0] += 1
                }
            }
            #expect(counts == [T.n1: 20, T.n2: 20])
        }
    }
}
