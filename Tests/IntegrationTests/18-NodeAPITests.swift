import Foundation
import MQTTClient
import MQTTCore
import Testing

/// The node's admin API: login (bearer tokens, Basic, throttled failures), the cluster view, the run-time weight
/// (which the gateway follows at once) and the drain.
@Suite("18 node API", .serialized, .timeLimit(.minutes(3)))
struct NodeAPITests {
    static let password = "test-admin-password-0123456789"
    static let basic = "Basic " + Data("admin:\(password)".utf8).base64EncodedString()

    /// One HTTP/1.1 request on a new connection.
    static func request(
        _ port: Int, _ method: String, _ path: String, authorization: String? = nil, body: String? = nil
    ) async throws -> (status: Int, headers: [String: String], body: String) {
        let connection = try await RawConnection.open(port: port)
        var text = "\(method) \(path) HTTP/1.1\r\nHost: node\r\nConnection: close\r\n"
        if let authorization { text += "Authorization: \(authorization)\r\n" }
        if let body { text += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        text += "\r\n" + (body ?? "")
        try await connection.send(bytes: Array(text.utf8))
        let response = try await GatewayHTTPTests.response(connection)
        await connection.close()
        return response
    }

    static func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test("the admin API needs the login: 401 without, Basic works, a login token works, 5 failures give 429")
    func login() async throws {
        try await withNode(["--admin-password", Self.password]) { node in
            #expect(try await Self.request(node.httpPort, "GET", "/api/v5/cluster").status == 401)
            #expect(try await Self.request(node.httpPort, "GET", "/api/v5/status").status == 200, "status needs no login")
            let viaBasic = try await Self.request(node.httpPort, "GET", "/api/v5/cluster", authorization: Self.basic)
            #expect(viaBasic.status == 200)
            #expect(try Self.object(viaBasic.body)["node"] as? String == "starling@127.0.0.1")
            let login = try await Self.request(
                node.httpPort, "POST", "/api/v5/login", body: #"{"username":"admin","password":"\#(Self.password)"}"#)
            #expect(login.status == 200)
            let token = try #require(try Self.object(login.body)["token"] as? String)
            #expect(try await Self.request(node.httpPort, "GET", "/api/v5/cluster", authorization: "Bearer \(token)").status == 200)
            #expect(try await Self.request(node.httpPort, "GET", "/api/v5/cluster", authorization: "Bearer forged").status == 401)
            var statuses: [Int] = []
            for _ in 0..<6 {
                statuses.append(try await Self.request(
                    node.httpPort, "POST", "/api/v5/login", body: #"{"username":"admin","password":"guess"}"#).status)
            }
            #expect(statuses == [401, 401, 401, 401, 401, 429], "\(statuses)")
        }
    }

    @Test("/metrics and /api/v5/prometheus/stats: Prometheus text without login, no client ID in it")
    func prometheus() async throws {
        try await withNode(["--admin-password", Self.password]) { node in
            let client = try await TestClient.connect(node, "prometheus-client-7")
            for path in ["/metrics", "/api/v5/prometheus/stats"] {
                let answer = try await Self.request(node.httpPort, "GET", path)
                #expect(answer.status == 200)
                #expect(answer.headers["content-type"]?.hasPrefix("text/plain") == true)
                #expect(answer.body.contains("# TYPE starling_connections gauge"))
                let lines = Set(answer.body.split(separator: "\n").map(String.init))
                #expect(lines.contains("starling_connections 1.0"), "\(answer.body)")
                #expect(lines.contains("starling_up 1.0"))
                #expect(!answer.body.contains("prometheus-client-7"))
            }
            try await client.disconnect()
        }
    }

    @Test("POST /api/v5/node/drain: the node drains, leaves and exits 0")
    func drainEndpoint() async throws {
        // Not `withNode`: this node is meant to exit.
        let node = try await NodeProcess.start(["--admin-password", Self.password])
        let answer = try await Self.request(node.httpPort, "POST", "/api/v5/node/drain", authorization: Self.basic)
        #expect(answer.status == 202)
        let exited: Bool
        do {
            try await waitUntil("the node exits", within: .seconds(20)) { !node.isRunning }
            exited = true
        } catch {
            exited = false
        }
        await node.stop()
        #expect(exited)
        #expect(!exited || node.terminationStatus == 0)
        #expect(node.log.contains("[Node] drained"))
    }

    @Test("PUT /api/v5/node/weight at run time: the gateway routes by the new weight at once, and the session moves")
    func weightAtRunTime() async throws {
        try await withCluster(count: 3, extraArguments: ["--admin-password", Self.password]) { cluster in
            try await withJoinedGateway(cluster) { gateway in
                // A client whose owner changes to node 3 when node 3 weighs 10 instead of 1.
                let id = try #require((0..<10_000).lazy.map { "reweigh-\($0)" }.first {
                    Placement.owner(of: $0) != 2 && Placement.owner(of: $0, weights: [1, 1, 10]) == 2
                })
                let before = Placement.owner(of: id)
                let client = try await TestClient.connect(gateway.configuration(id) {
                    $0.cleanStart = false
                    $0.connectProperties.sessionExpiryInterval = 300
                })
                try await waitUntil("\(id) on \(cluster.names[before])") { gateway.upstreamCounts(to: cluster.nodes)[before] == 1 }

                let answer = try await Self.request(
                    cluster[2].httpPort, "PUT", "/api/v5/node/weight", authorization: Self.basic, body: #"{"weight":10}"#)
                #expect(answer.status == 200, "\(answer.body)")
                // The session is handed to its new owner, which closes the client's connection (0x9C) ...
                #expect(await closes(client, within: .seconds(10)))
                // ... and the gateway, following the membership, sends the reconnect there.
                let again = try await TestClient.connect(gateway.configuration(id) { $0.cleanStart = false })
                #expect(again.connAck.sessionPresent)
                try await waitUntil("\(id) now on \(cluster.names[2])") { gateway.upstreamCounts(to: cluster.nodes)[2] == 1 }
                let view = try await Self.request(cluster[0].httpPort, "GET", "/api/v5/cluster", authorization: Self.basic)
                let members = try #require(try Self.object(view.body)["members"] as? [[String: Any]])
                #expect(members.first { $0["node"] as? String == cluster.names[2] }?["weight"] as? Double == 10)

                // Every node's figures, asked on node 1: the client's connection is on node 3.
                let nodes = try await Self.request(cluster[0].httpPort, "GET", "/api/v5/nodes", authorization: Self.basic)
                let list = try #require(try JSONSerialization.jsonObject(with: Data(nodes.body.utf8)) as? [[String: Any]])
                #expect(list.compactMap { $0["node"] as? String } == cluster.names)
                #expect(list[2]["connections"] as? Int == 1)
                #expect(list[2]["sessions"] as? Int ?? 0 >= 1)
                let totals = try Self.object(
                    try await Self.request(cluster[1].httpPort, "GET", "/api/v5/metrics", authorization: Self.basic).body)
                #expect(totals["nodes"] as? Int == 3)
                #expect(totals["connections"] as? Int == 1)
                try await again.disconnect()
            }
        }
    }
}
