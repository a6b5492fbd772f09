import Foundation
import MQTTClient
import MQTTCore
import NIOCore
import Testing

/// `--data-dir`: a whole-cluster restart (every node SIGKILLed, then started again) keeps the persistent sessions —
/// their subscriptions and the messages queued for them while their clients were offline — and the retained
/// messages. Without a data directory the same restart keeps nothing (the control case).
@Suite("13 data directory", .serialized, .timeLimit(.minutes(3)))
struct DataDirTests {
    static let subscribers = (0..<6).map { "dd-sub-\($0)" }

    static func persistent(_ config: inout MQTTClientConfiguration) {
        config.connectProperties.sessionExpiryInterval = 3600
    }

    /// Subscribers with persistent sessions (two per node) subscribe and go offline; a publisher then sends 10 QoS 1
    /// messages for them and 6 retained messages, spread over the nodes.
    private func populate(_ cluster: ClusterOfNodes) async throws {
        for (index, clientID) in Self.subscribers.enumerated() {
            let client = try await TestClient.connect(
                cluster[index % 3], clientID, cleanStart: false, configure: Self.persistent)
            try await client.subscribe("dd/queue", qos: .atLeastOnce)
            try await client.disconnect()
        }
        for node in 0..<3 {
            let publisher = try await TestClient.connect(cluster[node], "dd-pub-\(node)")
            for message in 0..<10 where message % 3 == node {
                let result = try await publisher.publish("dd/queue", "q\(message)", qos: .atLeastOnce)
                #expect(result.reasonCode == .success)
            }
            for topic in 0..<6 where topic % 3 == node {
                _ = try await publisher.publish("dd/retained/\(topic)", "r\(topic)", qos: .atLeastOnce, retain: true)
            }
            try await publisher.disconnect()
        }
    }

    /// What the cluster holds now: each subscriber's queued payloads (sorted), and the retained payloads a new
    /// wildcard subscriber gets (sorted).
    private func holdings(_ cluster: ClusterOfNodes) async throws -> (sessions: [String: [String]], retained: [String]) {
        var sessions: [String: [String]] = [:]
        for (index, clientID) in Self.subscribers.enumerated() {
            let client = try await TestClient.connect(
                cluster[(index + 1) % 3], clientID, cleanStart: false, configure: Self.persistent)
            var payloads: [String] = []
            if client.connAck.sessionPresent {
                payloads = try await client.receive(10).map { String(buffer: $0.payload) }
            }
            sessions[clientID] = payloads.sorted()
            try await client.disconnect()
        }
        let reader = try await TestClient.connect(cluster[2], "dd-reader")
        try await reader.subscribe("dd/retained/#", qos: .atLeastOnce)
        var retained: [String] = []
        while let message = try? await reader.next(within: .seconds(2)) { retained.append(String(buffer: message.payload)) }
        try await reader.disconnect()
        return (sessions, retained.sorted())
    }

    @Test("a whole-cluster restart with --data-dir keeps persistent sessions (subscriptions, queued messages) and retained messages")
    func wholeClusterRestartKeepsState() async throws {
        let directory = try TemporaryDirectory()
        try await withCluster(count: 3, extraArguments: ["--data-dir", directory.path + "/{name}"]) { cluster in
            try await populate(cluster)
            try await cluster.restartAll()
            let (sessions, retained) = try await holdings(cluster)
            let expected = (0..<10).map { "q\($0)" }.sorted()
            for clientID in Self.subscribers {
                #expect(sessions[clientID] == expected, "\(clientID)")
            }
            #expect(retained == (0..<6).map { "r\($0)" })
            for name in ["n1", "n2", "n3"] {
                #expect(FileManager.default.fileExists(atPath: directory.path + "/\(name)/snapshot.bin"))
            }
        }
    }

    @Test("without --data-dir a whole-cluster restart keeps nothing (the control case)")
    func wholeClusterRestartWithoutDataDirLosesState() async throws {
        try await withCluster(count: 3) { cluster in
            try await populate(cluster)
            try await cluster.restartAll()
            let (sessions, retained) = try await holdings(cluster)
            for clientID in Self.subscribers { #expect(sessions[clientID] == [], "\(clientID)") }
            #expect(retained == [])
        }
    }
}
