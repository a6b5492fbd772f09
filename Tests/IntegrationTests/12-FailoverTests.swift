import MQTTClient
import MQTTCore
import NIOCore
import Testing

/// A node of a three-node cluster is SIGKILLed while clients use the cluster. Persistent sessions survive on their
/// replica: every message a publisher got a PUBACK for reaches every subscriber, whether the subscriber's session
/// lived on the dead node, its connection was there, or neither; the clients that lose their connection reconnect to
/// a surviving node and find their session. Wills of the clients whose connection died are published, after their
/// Will Delay and not when the client is back in time. Retained messages survive the crash of any one node. When the
/// node comes back, the sessions it owns move back to it without losing anything (`12-FailoverTests+Rejoin.swift`).
///
/// Client IDs are chosen with `Placement` (the nodes' own ownership function) so that each case (session owned by the
/// victim, connection on the victim, both, neither) is present. Every test starts its own cluster.
@Suite("12 node failure", .serialized, .timeLimit(.minutes(3)))
struct FailoverTests {
    @Test("crash under load: every PUBACKed message reaches every persistent subscriber, the dead node's clients' wills are published")
    func crashUnderLoad() async throws {
        try await withCluster(count: 3) { cluster in
            let victim = 1
            // Three subscribers per node: one whose session each node owns. Connected to the victim: the connection
            // dies. Owned by the victim, connected elsewhere: DISCONNECT 0x9C. Neither: undisturbed.
            var subscribers: [PersistentClient] = []
            for connected in 0..<3 {
                for owner in 0..<3 {
                    let id = Placement.clientID("crash-c\(connected + 1)-o\(owner + 1)", ownedBy: owner)
                    let setup = PersistentClient.Setup(clientID: id, willTopic: "will/\(id)", filter: "load/t")
                    subscribers.append(try await PersistentClient.start(
                        setup, on: connected, in: cluster, spread: subscribers.count))
                }
            }
            let onVictim = subscribers.filter { $0.home == victim }
            let ownedByVictim = subscribers.filter { $0.home != victim && Placement.owner(of: $0.clientID) == victim }
            let untouched = subscribers.filter { $0.home != victim && Placement.owner(of: $0.clientID) != victim }
            let watcher = try await Self.localClient(cluster, "crash-wills", on: 2)
            try await watcher.subscribe("will/#", qos: .atLeastOnce)
            let willsArriving = TimedInbox(watcher)
            let publisher = try await Self.localClient(cluster, "crash-pub", on: 0) { $0.requestTimeout = .seconds(30) }

            let count = 400
            let killAt = 100
            // The kill, then the wait until both survivors log the victim down, in a task of their own.
            var failover = Task<(killed: ContinuousClock.Instant, down: ContinuousClock.Instant?)?, Never> { nil }
            let outcomes = await Self.publishPaced(publisher, topic: "load/t", prefix: "m", maxCount: count) { n in
                if n == killAt {
                    failover = Task {
                        let killed = ContinuousClock.now
                        await cluster.kill(victim)
                        let down: ContinuousClock.Instant? = (try? await cluster.waitUntilOthersSee(victim, "down")) != nil ? .now : nil
                        return (killed, down)
                    }
                }
                return true
            }
            let times = await failover.value
            let killedAt = times?.killed
            #expect(killedAt != nil, "the victim was killed during the run")
            #expect(times?.down != nil, "the survivors did not log the victim down within 20 s")
            let downSeenAt = times?.down ?? .now

            let publishProblems = Self.publishProblems(outcomes)
            #expect(outcomes.count == count, "published \(outcomes.count) of \(count)")
            #expect(publishProblems.isEmpty, "publisher errors:\n\(publishProblems.joined(separator: "\n"))")
            let acked = outcomes.filter(\.isAcked).map(\.payload)
            let slowest = outcomes.map(\.latency).max() ?? .zero

            let lost = await Self.waitForDelivery(of: acked, to: subscribers)
            #expect(lost.isEmpty, "PUBACKed yet not delivered:\n\(lost.joined(separator: "\n"))")

            // Wills: all of those connected to the victim, then 3 s in which no other may arrive.
            let wills = await Self.collectTopics(
                willsArriving, expected: Set(onVictim.map { "will/\($0.clientID)" }), within: .seconds(20),
                quietUntil: { .now + .seconds(3) })
            let willTopics = Set(wills.map(\.topic))
            for client in onVictim {
                #expect(willTopics.contains("will/\(client.clientID)"), "will of \(client.clientID) (connected to the victim) not published")
            }
            for client in untouched {
                #expect(!willTopics.contains("will/\(client.clientID)"), "will of \(client.clientID) published, yet neither its connection nor its session was on the victim")
            }
            let duplicateWills = Dictionary(grouping: wills.map(\.topic), by: { $0 }).filter { $0.value.count > 1 }.keys
            #expect(duplicateWills.isEmpty, "wills published more than once: \(duplicateWills.sorted())")

            // Connections: those on the victim dropped; those attached to a session on the victim got 0x9C; the rest
            // stayed. Every reconnection found its session.
            for client in onVictim + ownedByVictim {
                #expect(!client.reconnects.isEmpty, "\(client.clientID) never reconnected: \(client.problems)")
            }
            for client in ownedByVictim {
                #expect(client.reconnects.first?.closeReason == .useAnotherServer,
                        "\(client.clientID): session on the victim, connection on n\(client.home + 1): \(client.reconnects)")
            }
            for client in untouched {
                #expect(client.reconnects.isEmpty, "\(client.clientID) was disconnected: \(client.reconnects)")
            }
            for client in subscribers {
                #expect(client.problems.isEmpty, "\(client.clientID): \(client.problems)")
            }

            let start = killedAt ?? downSeenAt
            print("""
                [12 crash] published \(outcomes.count), acked \(acked.count), slowest PUBACK \(slowest); \
                victim down on every survivor \(downSeenAt - start) after the kill
                [12 crash] wills published (arrival after the kill): \(wills.map { "\($0.topic) +\($0.at - start)" })
                [12 crash] wills of clients on other nodes whose session was on the victim: \
                \(ownedByVictim.map { "\($0.clientID)=\(willTopics.contains("will/\($0.clientID)") ? "published" : "not published")" })
                """)
            for client in subscribers {
                let extra = client.received.values.reduce(0, +) - client.received.count
                print("[12 crash] \(client.clientID) n\(client.home + 1) owner n\(Placement.owner(of: client.clientID) + 1) "
                    + "replica n\(Placement.replica(of: client.clientID) + 1): \(client.received.count) distinct, \(extra) duplicate(s); "
                    + "reconnects \(client.reconnects)")
            }
            for client in subscribers { await client.stop() }
            try await publisher.disconnect()
            try await watcher.disconnect()
        }
    }

    @Test("Will Delay across a crash: published for a client that stays away, not for one back on another node within the delay")
    func willDelayOnFailover() async throws {
        try await withCluster(count: 3) { cluster in
            let victim = 1
            let watcher = try await Self.localClient(cluster, "wd-watch", on: 0)
            try await watcher.subscribe("wd/#", qos: .atLeastOnce)
            let willsArriving = TimedInbox(watcher)
            // All four are connected to the victim; per pair, one session owned by the victim, one by n3.
            func setup(_ prefix: String, owner: Int) -> PersistentClient.Setup {
                let id = Placement.clientID(prefix, ownedBy: owner)
                return PersistentClient.Setup(clientID: id, expiry: 10, willTopic: "wd/\(id)", willDelay: 2)
            }
            var staying: [TestClient] = []
            var stayingIDs: [String] = []
            for owner in [victim, 2] {
                let s = setup("wd-stay", owner: owner)
                stayingIDs.append(s.clientID)
                staying.append(try await TestClient.connect(cluster[victim], s.clientID, cleanStart: false) { config in
                    config.connectProperties.sessionExpiryInterval = s.expiry
                    var properties = MQTTProperties()
                    properties.willDelayInterval = s.willDelay
                    config.will = MQTTPacket.Will(
                        topic: TopicName(stringLiteral: s.willTopic!), payload: ByteBuffer(string: "gone"),
                        qos: .atLeastOnce, properties: properties)
                })
            }
            var returning: [PersistentClient] = []
            for owner in [victim, 2] {
                returning.append(try await PersistentClient.start(setup("wd-back", owner: owner), on: victim, in: cluster, spread: owner))
            }

            let killedAt = ContinuousClock.now
            await cluster.kill(victim)
            try await cluster.waitUntilOthersSee(victim, "down")
            let downSeenAt = ContinuousClock.now
            try? await waitUntil("the returning clients to reconnect", within: .seconds(15)) {
                returning.allSatisfy { !$0.reconnects.isEmpty }
            }
            let lastReconnect = returning.compactMap { $0.reconnects.first?.connectedAt }.max() ?? .now
            // The staying wills within 15 s of the kill; then silence until 3 s after the returning clients' delay
            // would have run out (counted from their reconnection at the latest, so from the loss of their connection).
            let wills = await Self.collectTopics(
                willsArriving, expected: Set(stayingIDs.map { "wd/\($0)" }), within: .seconds(15) - (.now - killedAt),
                quietUntil: { max(downSeenAt, lastReconnect) + .seconds(5) })
            let topics = wills.map(\.topic)
            for id in stayingIDs {
                #expect(topics.contains("wd/\(id)"), "will of \(id) (stayed away) not published within 15 s of the kill")
            }
            for client in returning {
                #expect(!client.reconnects.isEmpty, "\(client.clientID) did not reconnect: \(client.problems)")
                #expect(client.reconnects.first?.sessionPresent == true, "\(client.clientID): \(client.reconnects)")
                #expect(!topics.contains("wd/\(client.clientID)"),
                        "will of \(client.clientID) published although it reconnected: \(client.reconnects); kill->down \(downSeenAt - killedAt)")
            }
            print("[12 will delay] down seen \(downSeenAt - killedAt) after the kill; wills (after the kill): "
                + "\(wills.map { "\($0.topic) +\($0.at - killedAt)" }); returning: "
                + "\(returning.map { "\($0.clientID) owner n\(Placement.owner(of: $0.clientID) + 1): \($0.reconnects) (closed +\(($0.reconnects.first?.closedAt).map { $0 - killedAt }.map { "\($0)" } ?? "?"))" })")
            for client in returning { await client.stop() }
            for client in staying { await client.close() }
            try await watcher.disconnect()
        }
    }

    @Test("retained messages on 20 topics over every shard survive the SIGKILL of any one node", arguments: [0, 1, 2])
    func retainedSurvivesCrash(victim: Int) async throws {
        try await withCluster(count: 3) { cluster in
            // Five topics per shard, so the victim is the primary or the replica of some of them.
            var topics: [String] = []
            var perShard = [Int](repeating: 0, count: 4)
            for k in 0..<1000 where topics.count < 20 {
                let topic = "keep/\(k)"
                let shard = Placement.retainedShard(of: topic)
                guard perShard[shard] < 5 else { continue }
                perShard[shard] += 1
                topics.append(topic)
            }
            let primaryShards = (0..<4).filter { Placement.retainedOwners(ofShard: $0).first == victim }
            let replicaShards = (0..<4).filter { Placement.retainedOwners(ofShard: $0).last == victim }
            let survivors = (0..<3).filter { $0 != victim }
            let setter = try await Self.localClient(cluster, "keep-set", on: survivors[0])
            for topic in topics {
                let result = try await setter.publish(topic, "kept \(topic)", qos: .atLeastOnce, retain: true)
                #expect(result.reasonCode == .success || result.reasonCode == .noMatchingSubscribers, "\(topic): \(result.reasonCode)")
            }
            try await setter.disconnect()

            await cluster.kill(victim)
            try await cluster.waitUntilOthersSee(victim, "down")
            for node in survivors {
                let subscriber = try await Self.localClient(cluster, "keep-sub-n\(node + 1)", on: node)
                let merged = MergedInbox([subscriber])
                try await subscriber.subscribe("keep/#", qos: .atLeastOnce)
                var received = await merged.collect(topics.count, idle: .seconds(5), total: .seconds(20)).map(\.message)
                if let extra = await merged.inbox.next(within: .seconds(1)) { received.append(extra.message) }
                let got = Dictionary(grouping: received, by: \.topicString)
                let missing = topics.filter { got[$0] == nil }
                #expect(missing.isEmpty, """
                    subscriber on n\(node + 1) after n\(victim + 1) died misses \(missing.count) of 20 (shards \
                    \(Set(missing.map { Placement.retainedShard(of: $0) }).sorted()); victim primary of shards \(primaryShards), \
                    replica of \(replicaShards)): \(missing)
                    """)
                let wrong = received.filter { $0.text != "kept \($0.topicString)" || !$0.retain }
                #expect(wrong.isEmpty, "wrong payload or RETAIN flag: \(wrong.map { "\($0.topicString)=\($0.text) r=\($0.retain)" })")
                let duplicates = got.filter { $0.value.count > 1 }.keys.sorted()
                #expect(duplicates.isEmpty, "retained messages delivered more than once: \(duplicates)")
                try await subscriber.disconnect()
            }
            print("[12 retained] victim n\(victim + 1): primary of shards \(primaryShards), replica of \(replicaShards)")
        }
    }
}
