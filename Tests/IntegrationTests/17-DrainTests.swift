import Foundation
import MQTTClient
import MQTTCore
import Testing

/// `Node` drains on SIGTERM (`Broker.drain`): it owns no more keys (weight 0 in its member record), hands each of
/// its sessions to the next owner, closes its clients' connections so they reconnect there, and exits 0 after
/// leaving the cluster. Nothing acknowledged is lost.
@Suite("17 drain", .serialized, .timeLimit(.minutes(3)))
struct DrainTests {
    @Test("SIGTERM: the node's sessions move to their next owners with nothing lost; its clients reconnect there; it exits 0")
    func drainOnSigterm() async throws {
        try await withCluster(count: 3) { cluster in
            let victim = 1
            let id = Placement.clientID("drain-sub", ownedBy: victim)
            let next = Placement.owner(of: id, among: [0, 2])
            let persistent: (inout MQTTClientConfiguration) -> Void = {
                $0.cleanStart = false
                $0.connectProperties.sessionExpiryInterval = 300
            }
            let subscriber = try await TestClient.connect(cluster[victim], id, configure: persistent)
            try await subscriber.subscribe("drain/t", qos: .atLeastOnce)
            let publisher = try await TestClient.connect(cluster[0], Placement.clientID("drain-pub", ownedBy: 0))
            for k in 0..<50 { try await publisher.publish("drain/t", "m\(k)", qos: .atLeastOnce) }
            var received = Set(try await subscriber.receive(50).map(\.text))

            let exit = Task { await cluster.terminate(victim) }
            // Publishing goes on while the node drains: each PUBACK means the message is in the session, wherever
            // the session is at that moment.
            for k in 50..<150 { try await publisher.publish("drain/t", "m\(k)", qos: .atLeastOnce) }
            #expect(await closes(subscriber, within: .seconds(15)), "the draining node closed the client's connection")
            let closed = await subscriber.client.waitUntilClosed()
            #expect(closed.serverDisconnect?.reasonCode == .useAnotherServer, "DISCONNECT 0x9C: \(closed)")
            let status = await exit.value
            #expect(status == 0, "the drained node exits 0, got \(status.map(String.init) ?? "killed")")
            let log = cluster[victim].log
            #expect(log.contains("sessions handed over"), "the node handed its sessions over")

            // What reached the old connection before it closed counts (QoS 1: at least once, duplicates allowed).
            while let message = try? await subscriber.next(within: .milliseconds(200)) { received.insert(message.text) }
            let again = try await TestClient.connect(cluster[next], id, configure: persistent)
            #expect(again.connAck.sessionPresent, "the session is at its next owner")
            let all = Set((0..<150).map { "m\($0)" })
            while !all.isSubset(of: received), let message = try? await again.next(within: .seconds(10)) {
                received.insert(message.text)
            }
            let missing = all.subtracting(received).sorted()
            #expect(missing.isEmpty, "lost: \(missing)")
            try await again.disconnect()
            try await publisher.disconnect()
        }
    }
}
