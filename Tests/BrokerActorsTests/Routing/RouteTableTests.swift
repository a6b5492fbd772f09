import ClusterTransport
import MQTTCore
import Testing

@testable import BrokerActors

extension Routing {
    @Suite("RouteTable")
    struct RouteTableTests {
        static let n1 = NodeName("n1")!
        static let n2 = NodeName("n2")!
        static let n3 = NodeName("n3")!

        static let direct = RouteSelection(direct: true, groups: [])

        static func group(_ key: SharedGroupKey...) -> RouteSelection {
            RouteSelection(direct: false, groups: Set(key))
        }

        static func routeStrings(_ table: RouteTable) -> [String] {
            table.routes.map { "\($0.filter)@\($0.node)" }
        }

        /// The node each call of `match` picked for `key`, over `calls` calls.
        static func picks(_ table: inout RouteTable, _ topic: TopicName, _ key: SharedGroupKey, calls: Int) -> [NodeName] {
            (0..<calls).flatMap { _ in
                table.match(topic).filter { $0.value.groups?.contains(key) == true }.map(\.key)
            }
        }

        static func counts(_ nodes: [NodeName]) -> [NodeName: Int] {
            nodes.reduce(into: [:]) { $0[$1, default: 0] += 1 }
        }

        // MARK: Non-shared filters

        @Test("match returns every node with a matching non-shared filter, direct and with no groups")
        func directMatching() {
            var table = RouteTable()
            #expect(table.add("a/b", node: Self.n1) == true)
            #expect(table.add("a/+", node: Self.n2) == true)
            #expect(table.add("#", node: Self.n3) == true)
            #expect(table.add("$SYS/#", node: Self.n1) == true)
            #expect(table.add("+/x", node: Self.n2) == true)

            #expect(table.match("a/b") == [Self.n1: Self.direct, Self.n2: Self.direct, Self.n3: Self.direct])
            #expect(table.match("a/c") == [Self.n2: Self.direct, Self.n3: Self.direct])
            #expect(table.match("a") == [Self.n3: Self.direct])
            #expect(table.match("a/b/c") == [Self.n3: Self.direct])
            #expect(table.match("q/x") == [Self.n2: Self.direct, Self.n3: Self.direct])
            // A leading wildcard does not match a `$` topic [MQTT-4.7.2-1]; an explicit `$SYS/#` does.
            #expect(table.match("$SYS/x") == [Self.n1: Self.direct])
            #expect(table.match("$other/x") == [:])
            #expect(table.nodes == [Self.n1, Self.n2, Self.n3])
            #expect(table.filters(of: Self.n1).map(\.rawValue) == ["$SYS/#", "a/b"])
        }

        @Test("remove, replace and drop change only the given node's routes")
        func removeReplaceDrop() {
            var table = RouteTable()
            table.add("a/b", node: Self.n1)
            table.add("a/b", node: Self.n2)
            table.add("c", node: Self.n1)
            table.add("c", node: Self.n3)

            #expect(table.remove("a/b", node: Self.n1) == true)
            #expect(table.match("a/b") == [Self.n2: Self.direct])
            #expect(table.match("c") == [Self.n1: Self.direct, Self.n3: Self.direct])

            table.replace(node: Self.n1, with: ["a/b", "d/+", "a/b"])
            #expect(table.filters(of: Self.n1).map(\.rawValue) == ["a/b", "d/+"])
            #expect(table.match("c") == [Self.n3: Self.direct])
            #expect(table.match("d/x") == [Self.n1: Self.direct])
            #expect(table.match("a/b") == [Self.n1: Self.direct, Self.n2: Self.direct])

            table.drop(node: Self.n2)
            #expect(table.nodes == [Self.n1, Self.n3])
            #expect(table.filters(of: Self.n2).isEmpty)
            #expect(Self.routeStrings(table) == ["a/b@n1", "c@n3", "d/+@n1"])
            #expect(table.match("a/b") == [Self.n1: Self.direct])

            table.replace(node: Self.n3, with: [])
            table.drop(node: Self.n1)
            table.drop(node: Self.n1)
            #expect(table.routes.isEmpty)
            #expect(table.nodes.isEmpty)
            #expect(table.trie.nodeCount == 1)
        }

        @Test("adding twice and removing what is absent return false and change nothing")
        func idempotency() {
            var table = RouteTable()
            #expect(table.add("a/+", node: Self.n1) == true)
            #expect(table.add("a/+", node: Self.n1) == false)
            #expect(table.add("a/+", node: Self.n2) == true)
            #expect(table.remove("a/+", node: Self.n3) == false)
            #expect(table.remove("zzz", node: Self.n1) == false)
            #expect(table.remove("a/#", node: Self.n1) == false)
            #expect(Self.routeStrings(table) == ["a/+@n1", "a/+@n2"])

            #expect(table.remove("a/+", node: Self.n1) == true)
            #expect(table.remove("a/+", node: Self.n1) == false)
            // The second add was not counted: one remove is enough.
            #expect(table.match("a/x") == [Self.n2: Self.direct])
            #expect(table.remove("a/+", node: Self.n2) == true)
            #expect(table.routes.isEmpty)
            #expect(table.nodes.isEmpty)
            #expect(table.match("a/x") == [:])
            #expect(table.trie.nodeCount == 1)
        }

        // MARK: Shared groups

        @Test("a shared group goes to exactly one member node per message, round-robin")
        func sharedRoundRobin() {
            var table = RouteTable()
            let key = SharedGroupKey(group: "g", filter: "a/+")
            for node in [Self.n1, Self.n2, Self.n3] { table.add("$share/g/a/+", node: node) }

            var picked: [NodeName] = []
            for _ in 0..<30 {
                let selection = table.match("a/x")
                #expect(selection.count == 1)
                for (node, s) in selection {
                    #expect(s == Self.group(key))
                    picked.append(node)
                }
            }
            #expect(Self.counts(picked) == [Self.n1: 10, Self.n2: 10, Self.n3: 10])
            // Strict rotation: any three consecutive messages reach three different nodes.
            for start in 0..<(picked.count - 2) { #expect(Set(picked[start..<start + 3]).count == 3) }
            #expect(table.match("b/x") == [:])
            #expect(table.match("a") == [:])
        }

        @Test("each matching group is assigned independently; non-matching groups are left out")
        func severalGroups() {
            var table = RouteTable()
            let g1 = SharedGroupKey(group: "g1", filter: "a/#")
            let g2 = SharedGroupKey(group: "g2", filter: "a/#")
            let q = SharedGroupKey(group: "$queue", filter: "a/b")
            table.add("$share/g1/a/#", node: Self.n1)
            table.add("$share/g2/a/#", node: Self.n1)
            table.add("$share/g2/a/#", node: Self.n2)
            table.add("$queue/a/b", node: Self.n3)
            table.add("$share/g3/b/#", node: Self.n3)

            var assigned: [SharedGroupKey: [NodeName]] = [:]
            for _ in 0..<8 {
                for (node, s) in table.match("a/b") {
                    #expect(!s.direct)
                    for key in s.groups ?? [] { assigned[key, default: []].append(node) }
                }
            }
            #expect(Set(assigned.keys) == [g1, g2, q])
            #expect(assigned[g1] == Array(repeating: Self.n1, count: 8))
            #expect(Self.counts(assigned[g2] ?? []) == [Self.n1: 4, Self.n2: 4])
            #expect(assigned[q] == Array(repeating: Self.n3, count: 8))
        }

        @Test("a node with a direct filter and a group member gets both in one selection")
        func directAndGroupOnOneNode() {
            var table = RouteTable()
            let key = SharedGroupKey(group: "g", filter: "a/b")
            table.add("a/+", node: Self.n1)
            table.add("$share/g/a/b", node: Self.n1)
            #expect(table.match("a/b") == [Self.n1: RouteSelection(direct: true, groups: [key])])

            table.add("$share/g/a/b", node: Self.n2)
            var groupCounts: [NodeName: Int] = [:]
            for _ in 0..<6 {
                let selection = table.match("a/b")
                #expect(selection[Self.n1]?.direct == true)
                #expect(selection.values.reduce(0) { $0 + ($1.groups?.count ?? 99) } == 1)
                for (node, s) in selection where s.groups?.contains(key) == true { groupCounts[node, default: 0] += 1 }
            }
            #expect(groupCounts == [Self.n1: 3, Self.n2: 3])

            // Removing the direct filter keeps the membership, and the reverse.
            table.remove("a/+", node: Self.n1)
            table.remove("$share/g/a/b", node: Self.n2)
            #expect(table.match("a/b") == [Self.n1: Self.group(key)])
            table.add("a/b", node: Self.n1)
            table.remove("$share/g/a/b", node: Self.n1)
            #expect(table.match("a/b") == [Self.n1: Self.direct])
        }

        @Test("$queue/a and $share/$queue/a are one group; a node leaves it when both are gone")
        func queueAliases() {
            let key = SharedGroupKey(group: "$queue", filter: "a")
            #expect(SharedGroupKey("$queue/a") == key)
            #expect(SharedGroupKey("$share/$queue/a") == key)
            #expect(SharedGroupKey("a") == nil)

            var table = RouteTable()
            #expect(table.add("$queue/a", node: Self.n1) == true)
            #expect(table.add("$share/$queue/a", node: Self.n1) == true)
            #expect(table.add("$queue/a", node: Self.n2) == true)
            // n1 has two members of the group (one through each alias), n2 one: n1 gets two messages in three.
            #expect(Self.counts(Self.picks(&table, "a", key, calls: 6)) == [Self.n1: 4, Self.n2: 2])

            #expect(table.remove("$queue/a", node: Self.n1) == true)
            #expect(Self.counts(Self.picks(&table, "a", key, calls: 4)) == [Self.n1: 2, Self.n2: 2])

            #expect(table.remove("$share/$queue/a", node: Self.n1) == true)
            #expect(Self.picks(&table, "a", key, calls: 3) == [Self.n2, Self.n2, Self.n2])

            #expect(table.remove("$queue/a", node: Self.n2) == true)
            #expect(table.match("a") == [:])
            #expect(table.routes.isEmpty)
            #expect(table.trie.nodeCount == 1)
        }

        @Test("a node leaving a group mid-rotation is never picked again; the others share evenly")
        func memberLeavesMidRotation() {
            var table = RouteTable()
            let key = SharedGroupKey(group: "g", filter: "t")
            for node in [Self.n1, Self.n2, Self.n3] { table.add("$share/g/t", node: node) }
            _ = Self.picks(&table, "t", key, calls: 2)
            table.remove("$share/g/t", node: Self.n2)
            let picked = Self.picks(&table, "t", key, calls: 10)
            #expect(picked.count == 10)
            #expect(Self.counts(picked) == [Self.n1: 5, Self.n3: 5])
            table.drop(node: Self.n1)
            table.drop(node: Self.n3)
            #expect(table.match("t") == [:])
            #expect(table.trie.nodeCount == 1)
        }

        // MARK: Property

        /// Random add / remove / replace / drop over a few nodes and filters, against a set of (node, filter) pairs
        /// matched with `TopicFilter.matches`.
        @Test("random changes agree with a naive model", arguments: [1, 2, 3, 7, 42, 2024] as [UInt64])
        func agreesWithModel(seed: UInt64) {
            var gen = RoutingGenerator(seed: seed)
            let nodes = (0..<4).map { NodeName("n\($0)")! }
            var pool: [TopicFilter] = ["$queue/a", "$share/$queue/a", "#", "a", "$x/#", "$share/g1/#"]
            while pool.count < 16 { pool.append(gen.filter(sharedProbability: 0.35)) }
            let topics = allTopics(maxLevels: 3)

            var table = RouteTable()
            var model: [NodeName: [String: TopicFilter]] = [:]

            for step in 0..<250 {
                let node = gen.pick(nodes)
                let roll = gen.int(0...99)
                if roll < 55 {
                    let filter = gen.pick(pool)
                    let isNew = model[node, default: [:]].updateValue(filter, forKey: filter.rawValue) == nil
                    #expect(table.add(filter, node: node) == isNew, "seed \(seed) step \(step) add \(filter)@\(node)")
                } else if roll < 90 {
                    let filter = gen.pick(pool)
                    let existed = model[node]?.removeValue(forKey: filter.rawValue) != nil
                    #expect(table.remove(filter, node: node) == existed, "seed \(seed) step \(step) remove")
                } else if roll < 96 {
                    let filters = pool.filter { _ in gen.chance(0.3) }
                    model[node] = Dictionary(filters.map { ($0.rawValue, $0) }, uniquingKeysWith: { a, _ in a })
                    table.replace(node: node, with: filters)
                } else {
                    model[node] = nil
                    table.drop(node: node)
                }
                model = model.filter { !$0.value.isEmpty }

                let expectedRoutes = model.flatMap { n, fs in fs.keys.map { "\($0)@\(n)" } }.sorted()
                #expect(Self.routeStrings(table).sorted() == expectedRoutes, "seed \(seed) step \(step)")
                #expect(table.nodes == Set(model.keys), "seed \(seed) step \(step)")

                for topic in topics {
                    var membersByKey: [SharedGroupKey: Set<NodeName>] = [:]
                    var directNodes = Set<NodeName>()
                    for (n, filters) in model {
                        for filter in filters.values where filter.matches(topic) {
                            if let key = SharedGroupKey(filter) {
                                membersByKey[key, default: []].insert(n)
                            } else {
                                directNodes.insert(n)
                            }
                        }
                    }
                    // A node weighs as many members as it has raw filters of the group (at most 2: the `$queue`
                    // aliases), so every member node is reached within 2 × 2 × (member nodes) messages.
                    let rounds = 4 * (membersByKey.values.map(\.count).max() ?? 1)
                    var picked: [SharedGroupKey: [NodeName]] = [:]
                    for round in 0..<rounds {
                        let selection = table.match(topic)
                        if round == 0 {
                            #expect(
                                Set(selection.filter { $0.value.direct }.keys) == directNodes,
                                "seed \(seed) step \(step) topic \(topic)")
                        }
                        for (n, s) in selection {
                            #expect(s.groups != nil)
                            #expect(s.direct || s.groups?.isEmpty == false, "empty selection for \(n) on \(topic)")
                            for key in s.groups ?? [] { picked[key, default: []].append(n) }
                        }
                    }
                    // Every matching group once per message, to a member node; every member node is reached.
                    #expect(Set(picked.keys) == Set(membersByKey.keys), "seed \(seed) step \(step) topic \(topic)")
                    for (key, members) in membersByKey {
                        let nodesPicked = picked[key] ?? []
                        #expect(nodesPicked.count == rounds, "seed \(seed) step \(step) topic \(topic) \(key)")
                        #expect(Set(nodesPicked) == members, "seed \(seed) step \(step) topic \(topic) \(key)")
                    }
                }
            }

            for node in nodes { table.drop(node: node) }
            #expect(table.routes.isEmpty)
            #expect(table.trie.nodeCount == 1)
            for topic in topics { #expect(table.match(topic) == [:]) }
        }
    }
}
