import MQTTClient
import MQTTCore
import Synchronization
import Testing

/// A killed node comes back under the same name: the sessions it owns again move back to it (their connections
/// elsewhere are told 0x9C and reconnect), and nothing is lost on the way: not what was published while it was down,
/// not what is published while it rejoins. (Part of the serialized "12 node failure" suite.)
extension FailoverTests {
    @Test("rejoin: the sessions the restarted node owns again come back with everything published meanwhile")
    func rejoinHandsSessionsBack() async throws {
        try await withCluster(count: 3) { cluster in
            let victim = 2
            // Online the whole time (reconnecting when closed): sessions of the victim connected to each node, and
            // sessions of n1 and n2 connected to the victim.
            var online: [PersistentClient] = []
            for (connected, owner) in [(0, victim), (1, victim), (victim, victim), (victim, 0), (victim, 1)] {
                let id = Placement.clientID("rj-c\(connected + 1)-o\(owner + 1)", ownedBy: owner)
                online.append(try await PersistentClient.start(
                    .init(clientID: id, filter: "rj/t"), on: connected, in: cluster, spread: online.count))
            }
            // Offline from before the crash until after the rejoin: sessions of the victim that only queue.
            var offlineIDs: [String] = []
            for connected in [0, victim] {
                let id = Placement.clientID("rj-off-c\(connected + 1)", ownedBy: victim)
                let client = try await TestClient.connect(cluster[connected], id, cleanStart: false) {
                    $0.connectProperties.sessionExpiryInterval = 300
                }
                try await client.subscribe("rj/t", qos: .atLeastOnce)
                try await client.disconnect()
                offlineIDs.append(id)
            }
            let publisher = try await Self.localClient(cluster, "rj-pub", on: 0) { $0.requestTimeout = .seconds(30) }
            var outcomes = await Self.publishPaced(publisher, topic: "rj/t", prefix: "a", maxCount: 20)

            // Down: the victim's sessions are promoted on their replicas; its clients reconnect elsewhere.
            await cluster.kill(victim)
            try await cluster.waitUntilOthersSee(victim, "down")
            let affected = online.filter { $0.home == victim || Placement.owner(of: $0.clientID) == victim }
            try? await waitUntil("the victim's clients to reconnect", within: .seconds(30)) {
                affected.allSatisfy { !$0.reconnects.isEmpty && $0.isConnected }
            }
            let reconnectsWhileDown = online.map(\.reconnects.count)
            outcomes += await Self.publishPaced(publisher, topic: "rj/t", prefix: "b", maxCount: 50)

            // Back: published continuously while it restarts and rejoins, then 100 more.
            let progress = PublishProgress()
            let during = Task {
                await Self.publishPaced(publisher, topic: "rj/t", prefix: "c", maxCount: 3000, limit: .seconds(60)) { n in
                    progress.state.withLock { p in
                        p.issued = n
                        return n < (p.stopAt ?? .max)
                    }
                }
            }
            let restartStarted = ContinuousClock.now
            do {
                try await cluster.restart(victim)
                try await cluster.waitUntilOthersSee(victim, "up")
            } catch {
                progress.state.withLock { $0.stopAt = 0 }
                _ = await during.value
                throw error
            }
            let rejoinTook = ContinuousClock.now - restartStarted
            // The victim's sessions whose clients were on other nodes come back to it: their connections there are
            // closed (0x9C) and the clients reconnect. Publishing goes on until then, and for 100 more messages.
            let handedBack = online.filter { Placement.owner(of: $0.clientID) == victim }
            let handbackSeen = (try? await waitUntil("the victim's sessions to move back", within: .seconds(15)) {
                zip(online, reconnectsWhileDown).allSatisfy { client, before in
                    !handedBack.contains { $0 === client } || (client.reconnects.count > before && client.isConnected)
                }
            }) != nil
            progress.state.withLock { $0.stopAt = $0.issued + 100 }
            outcomes += await during.value

            var acked = outcomes.filter(\.isAcked).map(\.payload)
            let lostOnline = await Self.waitForDelivery(of: acked, to: online)
            #expect(lostOnline.isEmpty, "PUBACKed yet not delivered to an online subscriber:\n\(lostOnline.joined(separator: "\n"))")

            // The offline sessions, now on the restarted node again: present wherever the client reconnects, with
            // everything queued, and the subscription still delivers.
            var offline: [PersistentClient] = []
            for (id, node) in zip(offlineIDs, [victim, 1]) {
                offline.append(try await PersistentClient.start(
                    .init(clientID: id), on: node, in: cluster, spread: offline.count, expectPresent: true))
            }
            let lostOffline = await Self.waitForDelivery(of: acked, to: offline)
            #expect(lostOffline.isEmpty, "PUBACKed while offline, not delivered on reconnect:\n\(lostOffline.joined(separator: "\n"))")
            let after = await Self.publishPaced(publisher, topic: "rj/t", prefix: "d", maxCount: 20)
            outcomes += after
            acked += after.filter(\.isAcked).map(\.payload)
            let lostAfter = await Self.waitForDelivery(of: after.filter(\.isAcked).map(\.payload), to: online + offline, within: .seconds(20))
            #expect(lostAfter.isEmpty, "published after the rejoin, not delivered:\n\(lostAfter.joined(separator: "\n"))")

            // The restarted node holds its five sessions again (three online, two offline; the publisher's and the
            // watcher's are n1's): its `$SYS` session count says so.
            let sys = try await Self.localClient(cluster, "rj-sys", on: 0)
            try await sys.subscribe("$SYS/brokers/\(cluster.names[victim])/sessions/count", qos: .atMostOnce)
            let owned = online.filter { Placement.owner(of: $0.clientID) == victim }.count + offline.count
            var countProblem: String?
            do {
                _ = try await sys.messages(untilSys: "sessions/count", within: .seconds(15)) { $0 == owned }
            } catch {
                countProblem = "\(error)"
            }
            #expect(countProblem == nil, "the restarted n\(victim + 1) does not report the \(owned) sessions it owns: \(countProblem ?? "")")
            try await sys.disconnect()
            print("[12 rejoin] handback of \(handedBack.map(\.clientID)) \(handbackSeen ? "seen" : "NOT seen within 15 s"); n\(victim + 1) holds its \(owned) sessions: \(countProblem == nil)")

            let publishProblems = Self.publishProblems(outcomes)
            #expect(publishProblems.isEmpty, "publisher errors:\n\(publishProblems.joined(separator: "\n"))")
            for client in online + offline {
                #expect(client.problems.isEmpty, "\(client.clientID): \(client.problems)")
                #expect(client.reconnects.allSatisfy { $0.sessionPresent }, "\(client.clientID): \(client.reconnects)")
            }
            for client in affected {
                #expect(!client.reconnects.isEmpty, "\(client.clientID) was never reconnected")
            }

            print("[12 rejoin] published \(outcomes.count), acked \(acked.count), slowest PUBACK \(outcomes.map(\.latency).max() ?? .zero); rejoin took \(rejoinTook)")
            for (index, client) in (online + offline).enumerated() {
                let extra = client.received.values.reduce(0, +) - client.received.count
                let down = index < online.count ? reconnectsWhileDown[index] : 0
                print("[12 rejoin] \(client.clientID) first on n\(client.home + 1), owner n\(Placement.owner(of: client.clientID) + 1): "
                    + "\(client.received.count) distinct, \(extra) duplicate(s); reconnects while down \(Array(client.reconnects.prefix(down))), "
                    + "on rejoin \(Array(client.reconnects.dropFirst(down)))")
            }
            for client in online + offline { await client.stop() }
            try await publisher.disconnect()
        }
    }
}

/// How far a paced publisher running in a task of its own got, and where it is to stop.
private final class PublishProgress: Sendable {
    let state = Mutex<(issued: Int, stopAt: Int?)>((0, nil))
}
