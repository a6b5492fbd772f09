import NIOCore
import Testing

@testable import Gateway

/// The HTTP front over real sockets on 127.0.0.1: the reverse proxy to a node's HTTP API (an in-process HTTP server
/// stands in for it), the gateway's local routes, and its own refusals.
@Suite("http front: proxy", .timeLimit(.minutes(1)))
struct HTTPFrontProxyTests {
    static func response(_ client: TestTCPClient, _ what: String = "a response") async throws -> TestHTTPResponse {
        try await client.receive(what) { buffer, _ in TestHTTPResponse.parse(&buffer) }
    }

    @Test("two requests on one keep-alive connection: both proxied over one upstream connection, X-Forwarded-* added")
    func keepAlive() async throws {
        let echo = try await EchoHTTPServer.start()
        defer { Task { await echo.stop() } }
        try await withHTTPFront(backends: [testBackend("n1", http: echo.port)]) { port, _ in
            let client = try await TestTCPClient.connect(port: port)
            try await client.send("GET /api/one?q=1 HTTP/1.1\r\nHost: front.example\r\n\r\n")
            let first = try await Self.response(client)
            #expect(first.status == 200)
            #expect(first.headers["x-upstream"] == "echo")
            #expect(first.body.contains("connection=1 method=GET uri=/api/one?q=1 body=0"))
            #expect(first.body.contains("xff=127.0.0.1 proto=http host=front.example"))
            try await client.send("POST /api/two HTTP/1.1\r\nHost: front.example\r\nContent-Length: 5\r\n\r\nhello")
            let second = try await Self.response(client)
            #expect(second.body.contains("connection=1 method=POST uri=/api/two body=5"))
            #expect(echo.connections == 1)
            #expect(echo.requests.map(\.head.uri) == ["/api/one?q=1", "/api/two"])
            await client.close()
        }
    }

    @Test("pipelined requests are answered in order; a chunked upload and a large body are streamed through")
    func pipelinedAndBodies() async throws {
        let echo = try await EchoHTTPServer.start()
        defer { Task { await echo.stop() } }
        try await withHTTPFront(backends: [testBackend("n1", http: echo.port)]) { port, _ in
            let client = try await TestTCPClient.connect(port: port)
            try await client.send(
                "GET /a HTTP/1.1\r\nHost: h\r\n\r\nPUT /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\nGET /c HTTP/1.1\r\nHost: h\r\n\r\n")
            var bodies: [String] = []
            for _ in 0..<3 { bodies.append(try await Self.response(client).body) }
            #expect(bodies[0].contains("uri=/a body=0"))
            #expect(bodies[1].contains("uri=/b body=7"))
            #expect(bodies[2].contains("uri=/c body=0"))
            let size = 3 * 1024 * 1024
            try await client.send("POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: \(size)\r\n\r\n")
            try await client.send([UInt8](repeating: 0x61, count: size))
            #expect(try await Self.response(client, "the large upload's response").body.contains("uri=/big body=\(size)"))
            #expect(echo.connections == 1)
            await client.close()
        }
    }

    @Test("HEAD: the node's head is relayed without a body, and the connection goes on")
    func head() async throws {
        let echo = try await EchoHTTPServer.start()
        defer { Task { await echo.stop() } }
        try await withHTTPFront(backends: [testBackend("n1", http: echo.port)]) { port, _ in
            let client = try await TestTCPClient.connect(port: port)
            try await client.send("HEAD /h HTTP/1.1\r\nHost: h\r\n\r\nGET /g HTTP/1.1\r\nHost: h\r\n\r\n")
            let head = try await client.receive("the HEAD response") { buffer, _ in
                TestHTTPResponse.parse(&buffer, headOnly: true)
            }
            #expect(head.status == 200)
            #expect(head.headers["content-length"].flatMap { Int($0) } ?? 0 > 0)
            #expect(try await Self.response(client).body.contains("uri=/g"), "no body bytes of the HEAD came first")
            await client.close()
        }
    }

    @Test("Connection: close from the client: answered, then closed")
    func clientCloses() async throws {
        let echo = try await EchoHTTPServer.start()
        defer { Task { await echo.stop() } }
        try await withHTTPFront(backends: [testBackend("n1", http: echo.port)]) { port, _ in
            let client = try await TestTCPClient.connect(port: port)
            try await client.send("GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            let response = try await Self.response(client)
            #expect(response.status == 200)
            #expect(response.headers["connection"] == "close")
            #expect(try await client.untilClosed().isEmpty)
        }
    }

    @Test("no node with an HTTP port: 503 with a short text body, and the connection is kept")
    func noBackend() async throws {
        try await withHTTPFront(backends: [testBackend("n1", ws: 1234)]) { port, _ in
            let client = try await TestTCPClient.connect(port: port)
            for _ in 0..<2 {
                try await client.send("GET /api HTTP/1.1\r\nHost: h\r\n\r\n")
                let response = try await Self.response(client)
                #expect(response.status == 503)
                #expect(response.headers["content-type"]?.hasPrefix("text/plain") == true)
                #expect(!response.body.isEmpty && !response.body.dropLast().contains("\n"))
            }
            await client.close()
        }
    }

    @Test("the node's HTTP port is closed: 502, also for a request with a body")
    func badGateway() async throws {
        let port = try await closedPort()
        try await withHTTPFront(backends: [testBackend("n1", http: port)]) { front, _ in
            let client = try await TestTCPClient.connect(port: front)
            try await client.send("GET /api HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(try await Self.response(client).status == 502)
            try await client.send("POST /api HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody")
            #expect(try await Self.response(client).status == 502)
            await client.close()
        }
    }

    @Test("a local route is answered by the gateway without touching the node; the next request is proxied")
    func localRoute() async throws {
        let echo = try await EchoHTTPServer.start()
        defer { Task { await echo.stop() } }
        let local: LocalRoutes = { method, uri in
            guard method == "GET", uri.hasPrefix("/stats") else { return nil }
            return LocalResponse(
                status: 200, contentType: "application/json", body: "{\"uri\":\"\(uri)\"}",
                headers: [.init(name: "Refresh", value: "5")])
        }
        try await withHTTPFront(backends: [testBackend("n1", http: echo.port)], local: local) { port, _ in
            let client = try await TestTCPClient.connect(port: port)
            try await client.send("GET /stats?format=json HTTP/1.1\r\nHost: h\r\n\r\n")
            let stats = try await Self.response(client)
            #expect(stats.status == 200)
            #expect(stats.body == "{\"uri\":\"/stats?format=json\"}")
            #expect(stats.headers["content-type"] == "application/json")
            #expect(stats.headers["refresh"] == "5")
            #expect(stats.headers["content-length"] == String(stats.body.utf8.count))
            #expect(echo.connections == 0)
            try await client.send("GET /other HTTP/1.1\r\nHost: h\r\n\r\n")
            #expect(try await Self.response(client).body.contains("uri=/other"))
            #expect(echo.connections == 1)
            await client.close()
        }
    }

    @Test("/mqtt without a valid upgrade: 426 with a one-line body, then closed")
    func mqttWithoutUpgrade() async throws {
        try await withHTTPFront(backends: [testBackend("n1", ws: 1)]) { port, _ in
            let client = try await TestTCPClient.connect(port: port)
            try await client.send("GET /mqtt HTTP/1.1\r\nHost: h\r\n\r\n")
            let response = try await Self.response(client)
            #expect(response.status == 426)
            #expect(response.headers["upgrade"] == "websocket")
            #expect(response.body.hasSuffix("\n") && !response.body.dropLast().contains("\n"))
            #expect(try await client.untilClosed().isEmpty)
        }
    }
}
