import ClusterTransport
import NIOCore
import Testing

@testable import Gateway

/// MQTT over WebSocket through the HTTP front, over real sockets on 127.0.0.1, with an in-process stand-in for the
/// node's WebSocket port (`FakeWebSocketNode`: it answers 101 and then echoes). The real nodes are in
/// IntegrationTests' 16-GatewayHTTPTests.
@Suite("http front: websocket", .timeLimit(.minutes(1)))
struct HTTPFrontWebSocketTests {
    typealias Frames = WebSocketTestFrames
    static let key = "dGhlIHNhbXBsZSBub25jZQ=="
    static let upgrade =
        "GET /mqtt?client=1 HTTP/1.1\r\nHost: front\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqttv3.1, mqtt\r\n\r\n"

    static func connectFrames(_ clientID: String) -> [UInt8] {
        let connect = FirstPacketStateMachineTests.connectBytes(.v3_1_1, clientID: clientID)
        return Frames.frame(Frames.binary, fin: false, Array(connect[..<6]))
            + Frames.frame(Frames.ping, [1])
            + Frames.frame(Frames.continuation, Array(connect[6...]))
    }

    static func head(_ client: TestTCPClient) async throws -> TestHTTPResponse {
        try await client.receive("the 101") { buffer, _ in TestHTTPResponse.parse(&buffer, headOnly: true) }
    }

    static func frame(_ client: TestTCPClient) async throws -> Frames.ServerFrame? {
        try await client.receive("a frame or the close") { buffer, closed in
            if let frame = Frames.parseServerFrame(&buffer) { return .some(frame) }
            return closed ? .some(nil) : nil
        }
    }

    /// The client frames of the node's (here: the echo's) replay, read back whole.
    static func bytes(_ count: Int, from client: TestTCPClient) async throws -> [UInt8] {
        try await client.receive("\(count) bytes") { buffer, _ in buffer.readBytes(length: count) }
    }

    @Test("101 from the gateway; the node gets the same upgrade request and every raw byte; then the splice")
    func routed() async throws {
        let node = try await FakeWebSocketNode.start(afterResponse: Frames.frame(Frames.binary, [0x20, 0x02, 0, 0], mask: nil))
        defer { Task { await node.stop() } }
        try await withHTTPFront(backends: [testBackend("n1", ws: node.port)]) { port, state in
            let client = try await TestTCPClient.connect(port: port)
            try await client.send(Self.upgrade)
            let switching = try await Self.head(client)
            #expect(switching.status == 101)
            #expect(switching.headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
            #expect(switching.headers["sec-websocket-protocol"] == "mqtt")
            let frames = Self.connectFrames("routed")
            try await client.send(frames)
            // What the node sent after its own 101 (a CONNACK), then the echo of the replayed bytes.
            #expect(try await Self.frame(client) == .init(fin: true, opcode: Frames.binary, payload: [0x20, 0x02, 0, 0]))
            #expect(try await Self.bytes(frames.count, from: client) == frames)
            // Spliced: later bytes go straight through.
            let later = Frames.frame(Frames.binary, [0xC0, 0x00])
            try await client.send(later)
            #expect(try await Self.bytes(later.count, from: client) == later)
            #expect(node.requestHeads == [Self.upgrade])
            #expect(state.connectionCount(NodeName("n1")!) == 1)
            await client.close()
        }
    }

    @Test("the upgrade request and the first frames in one write")
    func pipelined() async throws {
        let node = try await FakeWebSocketNode.start()
        defer { Task { await node.stop() } }
        try await withHTTPFront(backends: [testBackend("n1", ws: node.port)]) { port, _ in
            let client = try await TestTCPClient.connect(port: port)
            let frames = Self.connectFrames("eager")
            try await client.send(Array(Self.upgrade.utf8) + frames)
            #expect(try await Self.head(client).status == 101)
            #expect(try await Self.bytes(frames.count, from: client) == frames)
            await client.close()
        }
    }

    @Test("an upgrade after a plain request on the same keep-alive connection")
    func upgradeAfterRequest() async throws {
        let node = try await FakeWebSocketNode.start()
        defer { Task { await node.stop() } }
        let local: LocalRoutes = { _, uri in
            uri == "/stats" ? LocalResponse(status: 200, contentType: "text/plain", body: "ok") : nil
        }
        try await withHTTPFront(backends: [testBackend("n1", ws: node.port)], local: local) { port, _ in
            let client = try await TestTCPClient.connect(port: port)
            let frames = Self.connectFrames("second")
            try await client.send(Array(("GET /stats HTTP/1.1\r\nHost: front\r\n\r\n" + Self.upgrade).utf8) + frames)
            let stats = try await client.receive("the /stats response") { buffer, _ in TestHTTPResponse.parse(&buffer) }
            #expect(stats.body == "ok")
            #expect(try await Self.head(client).status == 101)
            #expect(try await Self.bytes(frames.count, from: client) == frames)
            await client.close()
        }
    }

    @Test("the first candidate refuses the connection: the next one serves the client")
    func nextCandidate() async throws {
        let node = try await FakeWebSocketNode.start()
        defer { Task { await node.stop() } }
        let down = try await closedPort()
        let backends = [testBackend("a", ws: down), testBackend("b", ws: node.port)]
        try await withHTTPFront(backends: backends) { port, state in
            // A client whose session is owned by the node that is down.
            let id = try #require((0..<200).map { "c\($0)" }.first { state.candidates(for: $0).first?.name.rawValue == "a" })
            let client = try await TestTCPClient.connect(port: port)
            try await client.send(Self.upgrade)
            #expect(try await Self.head(client).status == 101)
            let frames = Self.connectFrames(id)
            try await client.send(frames)
            #expect(try await Self.bytes(frames.count, from: client) == frames)
            #expect(node.requestHeads.count == 1)
            await client.close()
        }
    }

    @Test("refusals: a text frame (1003); a malformed v5 CONNECT (its CONNACK, then 1002); the node is not contacted")
    func refusals() async throws {
        let node = try await FakeWebSocketNode.start()
        defer { Task { await node.stop() } }
        try await withHTTPFront(backends: [testBackend("n1", ws: node.port)]) { port, _ in
            let text = try await TestTCPClient.connect(port: port)
            try await text.send(Array(Self.upgrade.utf8) + Frames.frame(Frames.text, Array("hello".utf8)))
            #expect(try await Self.head(text).status == 101)
            #expect(try await Self.frame(text) == .init(fin: true, opcode: Frames.close, payload: [0x03, 0xEB]))
            #expect(try await Self.frame(text) == nil)

            var bad = FirstPacketStateMachineTests.connectBytes(.v5, clientID: "bad")
            bad[9] |= 0x01
            let malformed = try await TestTCPClient.connect(port: port)
            try await malformed.send(Array(Self.upgrade.utf8) + Frames.frame(Frames.binary, bad))
            #expect(try await Self.head(malformed).status == 101)
            #expect(try await Self.frame(malformed) == .init(fin: true, opcode: Frames.binary, payload: [0x20, 0x03, 0x00, 0x81, 0x00]))
            #expect(try await Self.frame(malformed) == .init(fin: true, opcode: Frames.close, payload: [0x03, 0xEA]))
            #expect(try await Self.frame(malformed) == nil)
            #expect(node.requestHeads.isEmpty)
        }
    }

    @Test("the node does not answer 101, or no node has a WebSocket port: close frame 1011, then closed")
    func nodeRefuses() async throws {
        let node = try await FakeWebSocketNode.start(response: "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        defer { Task { await node.stop() } }
        for backend in [testBackend("n1", ws: node.port), testBackend("n1", http: 80)] {
            try await withHTTPFront(backends: [backend]) { port, state in
                let client = try await TestTCPClient.connect(port: port)
                try await client.send(Array(Self.upgrade.utf8) + Self.connectFrames("x"))
                #expect(try await Self.head(client).status == 101)
                #expect(try await Self.frame(client) == .init(fin: true, opcode: Frames.close, payload: [0x03, 0xF3]))
                #expect(try await Self.frame(client) == nil)
                #expect(state.connectionCount(NodeName("n1")!) == 0)
            }
        }
    }

    @Test("no complete CONNECT within the connect timeout: closed")
    func timeout() async throws {
        try await withHTTPFront(backends: [testBackend("n1", ws: 1)], connectTimeout: .milliseconds(200)) { port, _ in
            let client = try await TestTCPClient.connect(port: port)
            let started = ContinuousClock.now
            try await client.send(Array(Self.upgrade.utf8) + Array(Self.connectFrames("slow").prefix(4)))
            #expect(try await Self.head(client).status == 101)
            _ = try await client.untilClosed(within: .seconds(5))
            #expect(ContinuousClock.now - started >= .milliseconds(200))
        }
    }
}
