import Foundation
import MQTTClient
import MQTTCore
import NIOCore
import Testing

/// The gateway's HTTP front (`--http-port`) in front of a three-node cluster with static backends that give each
/// node's WebSocket and HTTP ports: an MQTT-over-WebSocket client that upgrades on the gateway's `/mqtt` lands on
/// the node that owns its session (the gateway's established connection goes to that node's WebSocket port), every
/// time it reconnects; pub/sub works between WebSocket clients and a TCP client of the gateway; and the other
/// requests are proxied to a node's HTTP API.
@Suite("16 gateway http", .serialized, .timeLimit(.minutes(3)))
struct GatewayHTTPTests {
    /// Every node with its MQTT, WebSocket and HTTP ports, weight 1.
    static func backends(_ cluster: ClusterOfNodes) -> [String] {
        cluster.names.indices.map { index in
            let node = cluster[index]
            return "\(cluster.names[index])=127.0.0.1:\(node.mqttPort):\(node.wsPort):\(node.httpPort):1"
        }
    }

    /// Opens a WebSocket through the gateway, sends CONNECT cut over a binary and a continuation frame, and
    /// returns the connection once the CONNACK says success.
    static func connect(
        _ gateway: GatewayProcess, _ clientID: String, version: MQTTProtocolVersion
    ) async throws -> WebSocketConnection {
        let (ws, response) = try await WebSocketConnection.open(port: gateway.httpPort, version: version)
        #expect(response.status == 101)
        #expect(response.headers["sec-websocket-accept"] == WebSocketConnection.sampleAccept)
        #expect(response.headers["sec-websocket-protocol"] == "mqtt")
        let connect = ws.bytes(of: .connect(.init(version: version, clientID: clientID)))
        try await ws.send(frames: [
            (WebSocketConnection.binary, false, Array(connect[..<5])),
            (WebSocketConnection.continuation, true, Array(connect[5...])),
        ])
        let packet = try await ws.expectPacket()
        guard case .connAck(let ack) = packet, ack.reasonCode == .success else {
            throw Unexpected(expected: "a successful CONNACK", got: packet)
        }
        return ws
    }

    /// The next PUBLISH on `ws` (acknowledging QoS 1).
    static func nextPublish(_ ws: WebSocketConnection) async throws -> MQTTPacket.Publish {
        while true {
            let packet = try await ws.expectPacket()
            guard case .publish(let publish) = packet else { continue }
            if let id = publish.packetID {
                try await ws.send(frame: WebSocketConnection.binary, payload: ws.bytes(of: .pubAck(.init(packetID: id))))
            }
            return publish
        }
    }

    @Test("WebSocket clients through /mqtt land on their sessions' owners, again after reconnecting; pub/sub with TCP")
    func webSocketRouting() async throws {
        try await withCluster(count: 3) { cluster in
            try await withGateway(backends: Self.backends(cluster)) { gateway in
                let wsPorts = cluster.nodes.map(\.wsPort)
                let versions: [MQTTProtocolVersion] = [.v5, .v3_1_1, .v5]
                var sockets: [WebSocketConnection] = []
                for owner in 0..<3 {
                    let id = Placement.clientID("gw-ws", ownedBy: owner)
                    sockets.append(try await Self.connect(gateway, id, version: versions[owner]))
                    let expected = (0..<3).map { $0 <= owner ? 1 : 0 }
                    try await waitUntil("\(id) proxied to \(cluster.names[owner])'s WebSocket port only") {
                        gateway.upstreamCounts(toPorts: wsPorts) == expected
                    }
                }
                #expect(gateway.log.contains("gateway/transport=websocket"))

                // Reconnecting: the same client ID comes back to the same node.
                let again = Placement.clientID("gw-ws", ownedBy: 1)
                await sockets[1].raw.close()
                try await waitUntil("the first connection of \(again) closed") {
                    gateway.upstreamCounts(toPorts: wsPorts) == [1, 0, 1]
                }
                sockets[1] = try await Self.connect(gateway, again, version: .v3_1_1)
                try await waitUntil("\(again) back on \(cluster.names[1])") {
                    gateway.upstreamCounts(toPorts: wsPorts) == [1, 1, 1]
                }

                // Pub/sub: two WebSocket subscribers, a WebSocket and a TCP publisher.
                for (index, ws) in sockets.prefix(2).enumerated() {
                    let subscribe = ws.bytes(of: .subscribe(.init(
                        packetID: PacketID(rawValue: UInt16(index + 1))!,
                        subscriptions: [.init(filter: "gw/ws", options: .init(qos: .atLeastOnce))])))
                    try await ws.send(frame: WebSocketConnection.binary, payload: subscribe)
                    guard case .subAck = try await ws.expectPacket() else { throw Unexpected(expected: "SUBACK", got: nil) }
                }
                let publisher = sockets[2]
                try await publisher.send(frame: WebSocketConnection.binary, payload: publisher.bytes(of: .publish(.init(
                    topic: "gw/ws", payload: ByteBuffer(string: "from ws"), qos: .atLeastOnce,
                    packetID: PacketID(rawValue: 7)!))))
                guard case .pubAck = try await publisher.expectPacket() else { throw Unexpected(expected: "PUBACK", got: nil) }
                let tcp = try await TestClient.connect(gateway.configuration("gw-ws-tcp"))
                try await tcp.publish("gw/ws", "from tcp", qos: .atLeastOnce)
                for ws in sockets.prefix(2) {
                    let texts = [try await Self.nextPublish(ws), try await Self.nextPublish(ws)].map(\.text)
                    #expect(Set(texts) == ["from ws", "from tcp"])
                }
                try await tcp.disconnect()
                for ws in sockets { await ws.raw.close() }
            }
        }
    }

    @Test("other requests go to a node's HTTP API, two on one kept-alive connection; /mqtt without an upgrade is refused")
    func httpProxy() async throws {
        try await withCluster(count: 3) { cluster in
            try await withGateway(backends: Self.backends(cluster)) { gateway in
                let connection = try await RawConnection.open(port: gateway.httpPort)
                var statuses: [Int] = []
                for path in ["/api/v5/status", "/status?format=json"] {
                    try await connection.send(bytes: Array("GET \(path) HTTP/1.1\r\nHost: gw\r\n\r\n".utf8))
                    let response = try await Self.response(connection)
                    statuses.append(response.status)
                    #expect(response.headers["server"] == "starling", "answered by a node's HTTP API")
                    #expect(!response.body.isEmpty)
                }
                #expect(statuses.allSatisfy { $0 == 200 || $0 == 503 }, "\(statuses)")
                try await connection.send(bytes: Array("GET /mqtt HTTP/1.1\r\nHost: gw\r\n\r\n".utf8))
                #expect(try await Self.response(connection).status == 426)
                await connection.close()
            }
        }
    }

    /// One HTTP response (Content-Length body) from `connection`.
    static func response(_ connection: RawConnection) async throws -> (status: Int, headers: [String: String], body: String) {
        let parsed = try await connection.receive(within: .seconds(10), "an HTTP response") {
            buffer, _ -> (status: Int, headers: [String: String], body: String)? in
            let bytes = Array(buffer.readableBytesView)
            guard let end = bytes.firstRange(of: [13, 10, 13, 10]) else { return nil }
            var lines = String(decoding: bytes[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
            let status = lines.removeFirst().split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            var headers: [String: String] = [:]
            for line in lines {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let length = headers["content-length"].flatMap { Int($0) } ?? 0
            guard bytes.count >= end.upperBound + length else { return nil }
            buffer.moveReaderIndex(forwardBy: end.upperBound + length)
            return (status, headers, String(decoding: bytes[end.upperBound..<end.upperBound + length], as: UTF8.self))
        }
        guard let parsed else { throw Unexpected(expected: "an HTTP response", got: nil) }
        return parsed
    }
}
