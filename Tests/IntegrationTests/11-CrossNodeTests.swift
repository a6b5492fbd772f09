import MQTTClient
import MQTTCore
import NIOCore
import Testing

/// The distributed broker end to end: three `Node` processes on 127.0.0.1 form one cluster, and clients connected to
/// different nodes see one broker. Publish/subscribe works across every ordered pair of nodes at every QoS, in order;
/// retained messages set or cleared through any node are what a subscriber on any node gets; a shared subscription
/// with members on several nodes gets each message exactly once, spread across the nodes; a will is published to
/// subscribers on other nodes; a subscription is known cluster-wide by the time its SUBACK is sent; a session taken
/// over on another node brings its unacknowledged messages and subscriptions along (`11-CrossNodeTests+Sessions.swift`).
///
/// Every test starts its own cluster (`withCluster`), so nothing carries over between tests.
@Suite("11 cross-node broker", .serialized, .timeLimit(.minutes(3)))
struct CrossNodeTests {
    static let qosLevels: [MQTTQoS] = [.atMostOnce, .atLeastOnce, .exactlyOnce]

    @Test("three nodes form one cluster: each node's log shows the two others up, and each serves MQTT")
    func threeNodesFormACluster() async throws {
        try await withCluster(count: 3) { cluster in
            #expect(cluster.nodes.count == 3)
            let ids = try (0..<3).map { try cluster.memberID($0) }
            #expect(Set(ids).count == 3)
            for observer in 0..<3 {
                for member in 0..<3 where member != observer {
                    #expect(
                        ClusterOfNodes.logShows(cluster[observer], member: ids[member], status: "up"),
                        "\(cluster.names[observer]) does not show \(ids[member]) up")
                }
            }
            for (index, node) in cluster.nodes.enumerated() {
                let client = try await TestClient.connect(node, "form-\(index)")
                #expect(client.connAck.reasonCode == .success)
                try await client.disconnect()
            }
        }
    }

    @Test("a SIGKILLed node is seen down, and restarted under the same name and cluster port it rejoins as a new incarnation")
    func killedNodeRestarts() async throws {
        try await withCluster(count: 3) { cluster in
            let before = try cluster.memberID(2)
            await cluster.kill(2)
            #expect(!cluster[2].isRunning)
            try await cluster.waitUntilOthersSee(2, "down")
            try await cluster.restart(2)
            let after = try cluster.memberID(2)
            #expect(after != before, "a restart is a new incarnation")
            #expect(after.hasPrefix("n3@127.0.0.1#"))
            let client = try await TestClient.connect(cluster[2], "restarted-client")
            try await client.disconnect()
        }
    }

    /// The next message on `topic` within `timeout`, or nil.
    static func message(_ client: TestClient, on topic: String, within timeout: Duration = .seconds(10)) async -> MQTTPacket.Publish? {
        try? await client.next(on: topic, within: timeout)
    }

    private static func pairTopic(subscriber: Int, publisher: Int, qos: MQTTQoS) -> String {
        "pair/s\(subscriber + 1)/p\(publisher + 1)/q\(qos.rawValue)"
    }

    /// One subscriber per node (`pair/sI/#`, QoS 2) and one publisher per node; for each (subscriber, publisher) pair
    /// of node indexes, the publisher sends "0"..."19" at each QoS to a topic of its own at that subscriber. Returns a
    /// line for every pair and QoS whose subscriber did not get exactly those messages, in order, at the QoS they were
    /// published with, and for any message at a subscriber it was not sent to; empty when all is well.
    private static func pubSubProblems(
        _ cluster: ClusterOfNodes, pairs: [(subscriber: Int, publisher: Int)], perTopic: Int = 20
    ) async throws -> [String] {
        let nodes = cluster.nodes
        var subscribers: [TestClient] = []
        for (i, node) in nodes.enumerated() {
            let subscriber = try await TestClient.connect(node, "pair-sub-\(i + 1)")
            let ack = try await subscriber.subscribe("pair/s\(i + 1)/#", qos: .exactlyOnce)
            #expect(ack.reasonCodes == [.grantedQoS2])
            subscribers.append(subscriber)
        }
        let merged = MergedInbox(subscribers)
        var publishers: [TestClient] = []
        for (j, node) in nodes.enumerated() { publishers.append(try await TestClient.connect(node, "pair-pub-\(j + 1)")) }
        for (i, j) in pairs {
            for qos in qosLevels {
                let topic = pairTopic(subscriber: i, publisher: j, qos: qos)
                for n in 0..<perTopic { try await publishers[j].publish(topic, String(n), qos: qos) }
            }
        }

        var received = await merged.collect(pairs.count * qosLevels.count * perTopic)
        // Anything beyond the expected count is a duplicate or a stray: none within a second.
        if let extra = await merged.inbox.next(within: .seconds(1)) { received.append(extra) }
        var byKey: [String: [MQTTPacket.Publish]] = [:]
        for (client, message) in received { byKey["\(client) \(message.topicString)", default: []].append(message) }
        var problems: [String] = []
        var expectedKeys: Set<String> = []
        let wanted = (0..<perTopic).map(String.init)
        for (i, j) in pairs {
            for qos in qosLevels {
                let key = "\(i) \(pairTopic(subscriber: i, publisher: j, qos: qos))"
                expectedKeys.insert(key)
                let got = byKey[key] ?? []
                let label = "publisher on n\(j + 1) -> subscriber on n\(i + 1), QoS \(qos.rawValue)"
                if got.map(\.text) != wanted {
                    problems.append("\(label): got \(got.count) of \(perTopic): \(got.map(\.text))")
                } else if let wrong = got.first(where: { $0.qos != qos }) {
                    problems.append("\(label): delivered at QoS \(wrong.qos.rawValue)")
                }
            }
        }
        for key in Set(byKey.keys).subtracting(expectedKeys).sorted() {
            problems.append("\(byKey[key]!.count) message(s) at a subscriber they were not sent to: \(key)")
        }
        for client in subscribers + publishers { try await client.disconnect() }
        return problems
    }

    @Test("publish/subscribe within each node of a cluster at QoS 0, 1 and 2: every message once, in order")
    func sameNodeEveryQoS() async throws {
        try await withCluster(count: 3) { cluster in
            let problems = try await Self.pubSubProblems(cluster, pairs: (0..<3).map { ($0, $0) })
            #expect(problems.isEmpty, "\n\(problems.joined(separator: "\n"))")
        }
    }

    @Test("publish/subscribe across every ordered pair of nodes at QoS 0, 1 and 2: every message once, in order")
    func everyPairEveryQoS() async throws {
        try await withCluster(count: 3) { cluster in
            let pairs = (0..<3).flatMap { i in (0..<3).filter { $0 != i }.map { j in (subscriber: i, publisher: j) } }
            let problems = try await Self.pubSubProblems(cluster, pairs: pairs)
            #expect(problems.isEmpty, "\n\(problems.joined(separator: "\n"))")
        }
    }

    @Test("a retained message set through node 1 reaches a later subscriber on node 3; an empty one through node 2 clears it")
    func retainedAcrossNodes() async throws {
        try await withCluster(count: 3) { cluster in
            let setter = try await TestClient.connect(cluster[0], "ret-set")
            try await setter.publish("rx/t", "kept", qos: .atLeastOnce, retain: true)
            let first = try await TestClient.connect(cluster[2], "ret-sub-1")
            try await first.subscribe("rx/t", qos: .atLeastOnce)
            let got = try await first.next(on: "rx/t")
            #expect(got.text == "kept")
            #expect(got.retain == true, "a retained delivery on subscribe has RETAIN set")
            #expect(got.qos == .atLeastOnce)

            // The empty retained message is also delivered live to the existing subscriber on node 3: once it is
            // there, the clear has been processed.
            let clearer = try await TestClient.connect(cluster[1], "ret-clear")
            try await clearer.publish("rx/t", "", qos: .atLeastOnce, retain: true)
            let live = try await first.next(on: "rx/t")
            #expect(live.text == "")
            #expect(live.retain == false)

            for (index, name) in [(2, "ret-sub-3"), (0, "ret-sub-1b")] {
                let late = try await TestClient.connect(cluster[index], name)
                try await late.subscribe("rx/t", qos: .atLeastOnce)
                let nothing = await late.inbox.next(within: .seconds(1))
                #expect(nothing == nil, "cleared, yet a new subscriber on n\(index + 1) got \(nothing.map(\.text) ?? "")")
                try await late.disconnect()
            }
            for client in [setter, first, clearer] { try await client.disconnect() }
        }
    }

    @Test("a wildcard subscription on node 2 gathers retained messages set through every node")
    func retainedWildcardAcrossNodes() async throws {
        try await withCluster(count: 3) { cluster in
            let topics = ["rw/a", "rw/b", "rw/c/d"]
            var setters: [TestClient] = []
            for (index, topic) in topics.enumerated() {
                let setter = try await TestClient.connect(cluster[index], "rw-set-\(index + 1)")
                try await setter.publish(topic, "from n\(index + 1)", qos: .atLeastOnce, retain: true)
                setters.append(setter)
            }
            let subscriber = try await TestClient.connect(cluster[1], "rw-sub")
            let merged = MergedInbox([subscriber])
            try await subscriber.subscribe("rw/#", qos: .atLeastOnce)
            let received = await merged.collect(topics.count, idle: .seconds(5)).map(\.message)
            let pairs = Set(received.map { "\($0.topicString)=\($0.text)" })
            #expect(pairs == ["rw/a=from n1", "rw/b=from n2", "rw/c/d=from n3"])
            #expect(received.count == topics.count, "each retained message once: \(received.map(\.topicString))")
            #expect(received.allSatisfy { $0.retain }, "RETAIN set on every delivery on subscribe")
            for client in setters + [subscriber] { try await client.disconnect() }
        }
    }

    @Test("a shared subscription with a member on each node gets every message exactly once, evenly per member")
    func sharedAcrossNodes() async throws {
        try await withCluster(count: 3) { cluster in
            var members: [TestClient] = []
            for index in 0..<3 {
                let member = try await TestClient.connect(cluster[index], "share-\(index + 1)")
                let ack = try await member.subscribe("$share/g/s/#", qos: .atLeastOnce)
                #expect(ack.reasonCodes == [.grantedQoS1])
                members.append(member)
            }
            let merged = MergedInbox(members)
            let publisher = try await TestClient.connect(cluster[0], "share-pub")
            let count = 60
            for n in 0..<count { try await publisher.publish("s/x", String(n), qos: .atLeastOnce) }

            let received = await merged.collect(count)
            // Anything after the 60th would be a duplicate: none within a second.
            let extra = await merged.inbox.next(within: .seconds(1))
            let texts = received.map(\.message.text) + (extra.map { [$0.message.text] } ?? [])
            let missing = Set((0..<count).map(String.init)).subtracting(texts)
            let duplicates = Dictionary(grouping: texts, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
            #expect(missing.isEmpty, "missing: \(missing.sorted())")
            #expect(duplicates.isEmpty, "delivered more than once: \(duplicates)")
            // Balanced per member across the cluster, wherever the members' sessions live (two may share a node).
            let perMember = (0..<3).map { k in received.filter { $0.client == k }.count }
            #expect(perMember == [20, 20, 20], "messages per member: \(perMember)")
            for client in members + [publisher] { try await client.disconnect() }
        }
    }

    @Test("a will from a client on node 2 that drops without DISCONNECT reaches a subscriber on node 3")
    func willAcrossNodes() async throws {
        try await withCluster(count: 3) { cluster in
            // A watcher on the will's own node too, to tell "not published" from "not routed".
            let remote = try await TestClient.connect(cluster[2], "will-watch-n3")
            try await remote.subscribe("w/#", qos: .atLeastOnce)
            let local = try await TestClient.connect(cluster[1], "will-watch-n2")
            try await local.subscribe("w/#", qos: .atLeastOnce)
            var properties = MQTTProperties()
            properties.willDelayInterval = 0
            let will = MQTTPacket.Will(
                topic: "w/1", payload: ByteBuffer(string: "n2 client gone"), qos: .atLeastOnce, properties: properties)
            let client = try await TestClient.connect(cluster[1], "will-owner") { $0.will = will }
            await client.close()

            // Both are awaited (a timeout is nil), so a failure says which of them got nothing.
            let onLocal = await Self.message(local, on: "w/1")
            let onRemote = await Self.message(remote, on: "w/1")
            #expect(onLocal?.text == "n2 client gone", "watcher on n2, the will's own node")
            #expect(onRemote?.text == "n2 client gone", "watcher on n3")
            if let onRemote {
                #expect(onRemote.qos == .atLeastOnce)
                #expect(onRemote.retain == false)
            }
            for watcher in [remote, local] { try await watcher.disconnect() }
        }
    }

    @Test("a subscription is known cluster-wide once its SUBACK is sent: a publish on another node right after it arrives")
    func subscriptionVisibleAfterSubAck() async throws {
        try await withCluster(count: 3) { cluster in
            let publisher = try await TestClient.connect(cluster[0], "fresh-pub")
            let subscriber = try await TestClient.connect(cluster[2], "fresh-sub")
            // Several fresh topics, each published to the moment its SUBACK is in: a route that trails the SUBACK
            // loses the message (no retry here).
            for k in 0..<10 {
                let topic = k == 0 ? "fresh/topic" : "fresh/topic\(k)"
                let ack = try await subscriber.subscribe(topic, qos: .atLeastOnce)
                #expect(ack.reasonCodes == [.grantedQoS1])
                let result = try await publisher.publish(topic, "m\(k)", qos: .atLeastOnce)
                #expect(result.reasonCode == .success, "PUBACK \(result.reasonCode) for \(topic): no route on n1 yet")
                let got = try await subscriber.next(within: .seconds(10))
                #expect(got.topicString == topic)
                #expect(got.text == "m\(k)")
            }
            try await publisher.disconnect()
            try await subscriber.disconnect()
        }
    }
}
