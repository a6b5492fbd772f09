import ClusterTransport
import Foundation
import MQTTClient
import MQTTCore
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Partitions, made by freezing nodes with SIGSTOP (the others stop hearing them, as in a network split, and the
/// frozen ones come back with their old state on SIGCONT):
/// - a node that sees no majority of the cluster reports itself partitioned, and recovers when the others return;
/// - a session that diverged (its owner frozen while the others promoted its replica and queued messages in it)
///   is merged when the owner returns: the client finds every message either side accepted.
@Suite("14 partitions", .serialized, .timeLimit(.minutes(3)))
struct PartitionTests {
    private func waitForLog(_ node: NodeProcess, _ text: String, within timeout: Duration = .seconds(20)) async throws {
        try await waitUntil("\(text) in \(node.logPath)", within: timeout) { node.log.contains(text) }
    }

    @Test("a node cut off from the majority reports itself partitioned, and recovers when the others return")
    func minorityReportsPartitioned() async throws {
        try await withCluster(count: 3) { cluster in
            cluster[1].kill(SIGSTOP)
            cluster[2].kill(SIGSTOP)
            defer {
                cluster[1].kill(SIGCONT)
                cluster[2].kill(SIGCONT)
            }
            try await waitForLog(cluster[0], "partitioned: this node sees no majority")
            #expect(!cluster[0].log.contains("with the majority of the cluster's brokers again"))
            cluster[1].kill(SIGCONT)
            cluster[2].kill(SIGCONT)
            try await waitForLog(cluster[0], "with the majority of the cluster's brokers again")
            try await cluster.waitUntilFormed()
            // The two that were frozen never lost the majority from their own point of view long enough to say so;
            // the side of two is never partitioned.
        }
    }

    @Test("a session that diverged during a partition is merged when it heals: no accepted message is lost")
    func divergedSessionMerges() async throws {
        try await withCluster(count: 3) { cluster in
            let names = cluster.names.map { NodeName($0)! }
            let candidates = names.map { OwnershipCandidate(name: $0) }
            // A client whose session n3 owns.
            let clientID = try #require((0..<1000).map { "pm-\($0)" }.first {
                Ownership.primary(for: "session/\($0)", among: candidates) == names[2]
            })
            let subscriber = try await TestClient.connect(
                cluster[2], clientID, cleanStart: false, configure: DataDirTests.persistent)
            try await subscriber.subscribe("pm/t", qos: .atLeastOnce)
            try await subscriber.disconnect()
            let publisher = try await TestClient.connect(cluster[0], "pm-pub")
            _ = try await publisher.publish("pm/t", "before", qos: .atLeastOnce)

            // n3 freezes: the others take its sessions over and queue new messages in the promoted copy.
            cluster[2].kill(SIGSTOP)
            defer { cluster[2].kill(SIGCONT) }
            try await cluster.waitUntilOthersSee(2, "down")
            for index in 0..<3 {
                let result = try await publisher.publish("pm/t", "during-\(index)", qos: .atLeastOnce)
                #expect(result.reasonCode == .success)
            }
            cluster[2].kill(SIGCONT)
            try await cluster.waitUntilFormed()
            // n3 owns the session again and still had its own copy: the promoted copy is handed back and merged.
            try await waitForLog(cluster[2], "merged two copies of a session")

            let back = try await TestClient.connect(cluster[0], clientID, cleanStart: false, configure: DataDirTests.persistent)
            #expect(back.connAck.sessionPresent)
            var received: Set<String> = []
            while let message = try? await back.next(within: .seconds(3)) {
                received.insert(String(buffer: message.payload))
            }
            #expect(received.isSuperset(of: ["before", "during-0", "during-1", "during-2"]), "\(received)")
            // Nothing stays duplicated: one more message arrives once.
            _ = try await publisher.publish("pm/t", "after", qos: .atLeastOnce)
            var after = 0
            while let message = try? await back.next(within: .seconds(2)) {
                if String(buffer: message.payload) == "after" { after += 1 }
            }
            #expect(after == 1)
            try await back.disconnect()
            try await publisher.disconnect()
        }
    }
}
