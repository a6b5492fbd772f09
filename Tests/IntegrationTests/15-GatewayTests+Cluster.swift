import ClusterTransport
import Foundation
import MQTTClient
import MQTTCore
import Testing

/// The gateway as a member of the cluster (`--seed`, the cookie): it learns the nodes, their MQTT ports and their
/// weights (5/2/3 here, each node's own `--weight`) from the membership, and routes each client to the owner of its
/// session by the same weighted rendezvous hash as the nodes.
@Suite("15 gateway in the cluster", .serialized, .timeLimit(.minutes(3)))
struct GatewayClusterTests {
    static let weights: [Double] = [5, 2, 3]

    /// The node owning `clientID`'s session among `nodes`, with the test's weights.
    static func owner(of clientID: String, among nodes: [Int] = [0, 1, 2]) -> Int {
        Placement.owner(of: clientID, among: nodes, weights: weights)
    }

    static func weighted<T>(_ body: (ClusterOfNodes) async throws -> T) async throws -> T {
        try await withCluster(count: 3, perNode: weights.map { ["--weight", String($0)] }, body)
    }

    @Test("affinity over 20 reconnects, 30 clients each on its weighted owner, and long IDs told apart by their tails")
    func affinityAndWeights() async throws {
        try await Self.weighted { cluster in
            try await withJoinedGateway(cluster) { gateway in
                // One client ID, 20 reconnects: each time on its owner, and only there.
                let id = "affinity-device-7"
                let owner = Self.owner(of: id)
                let alone = (0..<3).map { $0 == owner ? 1 : 0 }
                for round in 0..<20 {
                    let client = try await TestClient.connect(gateway.configuration(id))
                    try await waitUntil("round \(round): \(id) proxied to \(cluster.names[owner]) only") {
                        gateway.upstreamCounts(to: cluster.nodes) == alone
                    }
                    try await client.disconnect()
                    try await waitUntil("round \(round): the upstream connection closed") {
                        gateway.upstreamCounts(to: cluster.nodes) == [0, 0, 0]
                    }
                }
                // 30 different client IDs held at once: each node holds exactly the ones HRW gives it.
                let ids = (0..<30).map { "fleet-\($0)" }
                var expected = [0, 0, 0]
                for id in ids { expected[Self.owner(of: id)] += 1 }
                #expect(expected.allSatisfy { $0 > 0 }, "the sample should reach every node: \(expected)")
                var clients: [TestClient] = []
                for id in ids { clients.append(try await TestClient.connect(gateway.configuration(id, version: .v3_1_1))) }
                try await waitUntil("30 clients spread \(expected)") { gateway.upstreamCounts(to: cluster.nodes) == expected }
                for client in clients { try await client.disconnect() }
                try await waitUntil("all closed") { gateway.upstreamCounts(to: cluster.nodes) == [0, 0, 0] }

                // Two 120-character IDs that share their first 110 characters (a 32-character stick table sees
                // one key) but have different owners: each lands on its own.
                let prefix = String(String(repeating: "building-7/floor-3/sensor-array/", count: 4).prefix(110))
                var pair: [String] = []
                for k in 0..<10_000 where pair.count < 2 {
                    let candidate = prefix + String(format: "%010d", k)
                    if pair.isEmpty || Self.owner(of: candidate) != Self.owner(of: pair[0]) { pair.append(candidate) }
                }
                #expect(pair.count == 2 && pair.allSatisfy { $0.count == 120 })
                for long in pair {
                    let client = try await TestClient.connect(gateway.configuration(long))
                    let target = Self.owner(of: long)
                    try await waitUntil("a long ID proxied to \(cluster.names[target])") {
                        gateway.upstreamCounts(to: cluster.nodes) == (0..<3).map { $0 == target ? 1 : 0 }
                    }
                    try await client.disconnect()
                    try await waitUntil("closed") { gateway.upstreamCounts(to: cluster.nodes) == [0, 0, 0] }
                }
            }
        }
    }

    @Test("SIGKILL of a session's owner: the client is closed at once, the reconnect lands on the new owner with the session; failover time printed")
    func failoverThroughMembership() async throws {
        try await Self.weighted { cluster in
            try await withJoinedGateway(cluster, extra: ["--check-interval", "5"]) { gateway in
                let victim = 0
                let id = (0..<10_000).lazy.map { "gw-cluster-fail-\($0)" }.first { Self.owner(of: $0) == victim }!
                let newOwner = Self.owner(of: id, among: [1, 2])
                let publisherID = (0..<10_000).lazy.map { "gw-cluster-pub-\($0)" }.first { Self.owner(of: $0) != victim }!
                let persistent: (inout MQTTClientConfiguration) -> Void = {
                    $0.cleanStart = false
                    $0.connectProperties.sessionExpiryInterval = 300
                }
                let subscriber = try await TestClient.connect(gateway.configuration(id, configure: persistent))
                try await subscriber.subscribe("gw/cluster/fail", qos: .atLeastOnce)
                let publisher = try await TestClient.connect(gateway.configuration(publisherID))
                try await publisher.publish("gw/cluster/fail", "before", qos: .atLeastOnce)
                #expect(try await subscriber.next().text == "before")

                let killedAt = ContinuousClock.now
                await cluster.kill(victim)
                // The node's sockets die with it, so the spliced connection closes at once.
                let closed = await closes(subscriber, within: .seconds(4))
                #expect(closed, "the gateway did not close the client within 4 s of its node's death")
                let closedAfter = ContinuousClock.now - killedAt

                // Reconnect at once after each failure (reconnect delay 0), for at most 20 s.
                var second: TestClient?
                let deadline = ContinuousClock.now + .seconds(20)
                while second == nil, ContinuousClock.now < deadline {
                    if let client = try? await TestClient.connect(gateway.configuration(id) { config in
                        persistent(&config)
                        config.connectTimeout = .seconds(3)
                    }) {
                        if client.connAck.sessionPresent { second = client } else { await client.close() }
                    }
                }
                let reconnected = try #require(second, "no reconnect with Session Present 1 within 20 s")
                try await publisher.publish("gw/cluster/fail", "after", qos: .atLeastOnce)
                // QoS 1 is at least once: "before" comes again (DUP) when its PUBACK had not reached the session's
                // replica before the kill. Anything else is wrong.
                var texts = [try await reconnected.next().text]
                if texts == ["before"] { texts.append(try await reconnected.next().text) }
                #expect(texts.last == "after", "received \(texts)")
                let receivedAfter = ContinuousClock.now - killedAt
                let onNewOwner = 1 + (Self.owner(of: publisherID) == newOwner ? 1 : 0)
                #expect(gateway.upstreamCounts(to: [cluster[newOwner]]) == [onNewOwner], "the reconnect went to \(cluster.names[newOwner])")
                print("gateway failover (cluster member): client closed after \(closedAfter), message received again after \(receivedAfter)")
                try await reconnected.disconnect()
                try await publisher.disconnect()
            }
        }
    }

    @Test("a hung node (SIGSTOP: its sockets stay open) is declared down by the membership, and the gateway then closes its clients; the health checks alone would take longer")
    func hungNode() async throws {
        try await Self.weighted { cluster in
            // Checks every 10 s with fall 3: 30 s before the checks alone would act.
            try await withJoinedGateway(cluster, extra: ["--check-interval", "10", "--fall", "3"]) { gateway in
                let victim = 2
                let id = (0..<10_000).lazy.map { "gw-hung-\($0)" }.first { Self.owner(of: $0) == victim }!
                let client = try await TestClient.connect(gateway.configuration(id))
                try await waitUntil("\(id) proxied to \(cluster.names[victim])") {
                    gateway.upstreamCounts(to: cluster.nodes)[victim] == 1
                }
                let stoppedAt = ContinuousClock.now
                cluster[victim].kill(SIGSTOP)
                let closed = await closes(client, within: .seconds(15))
                let closedAfter = ContinuousClock.now - stoppedAt
                #expect(closed, "the gateway did not close the hung node's client within 15 s")
                #expect(gateway.log.contains("backend ineligible: \(cluster.names[victim]) down"))
                // A new client of that session goes to the next owner, which is up.
                let next = Self.owner(of: id, among: [0, 1])
                let again = try await TestClient.connect(gateway.configuration(id))
                try await waitUntil("\(id) now proxied to \(cluster.names[next])") {
                    gateway.upstreamCounts(to: [cluster[next]]) == [1]
                }
                print("gateway: hung node's client closed \(closedAfter) after SIGSTOP")
                try await again.disconnect()
                await cluster.kill(victim)
            }
        }
    }

    @Test("/stats on the HTTP port: JSON with the three backends, their weights and connections; the affinity view names the owner, and over 10,000 IDs gives each node its weight's share; Prometheus text; HTML that refreshes")
    func stats() async throws {
        try await Self.weighted { cluster in
            try await withJoinedGateway(cluster) { gateway in
                let id = "stats-client-1"
                let owner = Self.owner(of: id)
                let client = try await TestClient.connect(gateway.configuration(id))
                try await waitUntil("\(id) proxied") { gateway.upstreamCounts(to: cluster.nodes)[owner] == 1 }
                let http = try await RawConnection.open(port: gateway.httpPort)
                func get(_ path: String) async throws -> (status: Int, headers: [String: String], body: String) {
                    try await http.send(bytes: Array("GET \(path) HTTP/1.1\r\nHost: gw\r\n\r\n".utf8))
                    return try await GatewayHTTPTests.response(http)
                }
                let json = try await get("/stats?format=json&client=\(id)")
                #expect(json.status == 200)
                let document = try #require(try JSONSerialization.jsonObject(with: Data(json.body.utf8)) as? [String: Any])
                #expect(document["mode"] as? String == "cluster")
                let rows = try #require(document["backends"] as? [[String: Any]])
                #expect(rows.compactMap { $0["name"] as? String } == cluster.names)
                #expect(rows.compactMap { $0["weight"] as? Double } == Self.weights)
                #expect(rows.allSatisfy { $0["state"] as? String == "up" }, "\(rows.map { $0["state"] ?? "-" })")
                #expect(rows[owner]["currentConnections"] as? Int == 1)
                #expect(rows[owner]["weightSource"] as? String == "node")
                let affinity = try #require(document["affinity"] as? [String: Any])
                #expect(affinity["chosen"] as? String == cluster.names[owner])

                let prometheus = try await get("/stats/prometheus")
                #expect(prometheus.status == 200)
                #expect(prometheus.body.contains("starling_gateway_backend_connections{backend=\"\(cluster.names[owner])\"} 1"))
                #expect(!prometheus.body.contains(id), "no client ID in the metrics")

                // The running gateway's choice over 10,000 client IDs, asked through its affinity view: each node's
                // share is within 3 points of its weight's (5/2/3 → 50/20/30 %).
                var chosen: [String: Int] = [:]
                for k in 0..<10_000 {
                    let answer = try await get("/stats?format=json&client=share-\(k)")
                    let body = try #require(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
                    let name = try #require((body["affinity"] as? [String: Any])?["chosen"] as? String)
                    chosen[name, default: 0] += 1
                }
                for (index, weight) in Self.weights.enumerated() {
                    let share: Double = Double(chosen[cluster.names[index], default: 0]) / 10_000
                    let expected: Double = weight / 10
                    let off: Double = abs(share - expected)
                    #expect(off <= 0.03, "\(cluster.names[index]): \(share) against \(expected)")
                }

                let page = try await get("/stats")
                #expect(page.status == 200)
                #expect(page.headers["refresh"] != nil)
                #expect(page.body.contains(cluster.names[owner]))
                await http.close()
                try await client.disconnect()
            }
        }
    }
}
