import MQTTClient
import MQTTCore
import NIOCore
import Testing

/// The other transports: MQTT over WebSocket (frames cut by hand) and MQTT over TLS (through openssl s_client).
@Suite("08 Transport", .timeLimit(.minutes(1)))
struct TransportTests {
    static let versions: [MQTTProtocolVersion] = [.v3_1_1, .v5]

    @Test("WebSocket upgrade on /mqtt with subprotocol mqtt")
    func upgrade() async throws {
        try await withNode { node in
            let (ws, response) = try await WebSocketConnection.open(port: node.wsPort)
            #expect(response.status == 101)
            #expect(response.headers["upgrade"]?.lowercased() == "websocket")
            #expect(response.headers["sec-websocket-accept"] == WebSocketConnection.sampleAccept)
            #expect(response.headers["sec-websocket-protocol"] == "mqtt")
            await ws.raw.close()
        }
    }

    @Test("WebSocket: a CONNECT split over two frames, then SUBSCRIBE and PUBLISH in one frame", arguments: versions)
    func framing(version: MQTTProtocolVersion) async throws {
        try await withNode { node in
            let tcpSubscriber = try await TestClient.connect(node, "tcp-side", version: version)
            try await tcpSubscriber.subscribe("ws/t", qos: .atLeastOnce)

            let (ws, response) = try await WebSocketConnection.open(port: node.wsPort, version: version)
            #expect(response.status == 101)
            let connect = ws.bytes(of: .connect(.init(version: version, clientID: "ws-client")))
            let cut = connect.count / 2
            try await ws.send(frame: WebSocketConnection.binary, payload: Array(connect[..<cut]))
            try await ws.send(frame: WebSocketConnection.binary, payload: Array(connect[cut...]))
            let connAck = try await ws.expectPacket()
            guard case .connAck(let ack) = connAck else { Issue.record("expected CONNACK, got \(connAck)"); return }
            #expect(ack.reasonCode == .success)

            let id = PacketID(rawValue: 1)!
            let subscribe = ws.bytes(of: .subscribe(.init(
                packetID: id, subscriptions: [.init(filter: "ws/t", options: .init(qos: .atLeastOnce))])))
            let publish = ws.bytes(of: .publish(.init(
                topic: "ws/t", payload: ByteBuffer(string: "over websocket"), qos: .atLeastOnce,
                packetID: PacketID(rawValue: 2)!)))
            try await ws.send(frame: WebSocketConnection.binary, payload: subscribe + publish)
            var subAck: MQTTPacket.SubAck?
            var pubAck: MQTTPacket.PubAck?
            var echoed: MQTTPacket.Publish?
            while subAck == nil || pubAck == nil || echoed == nil {
                switch try await ws.expectPacket() {
                case .subAck(let a): subAck = a
                case .pubAck(let a): pubAck = a
                case .publish(let p): echoed = p
                case let other: Issue.record("unexpected \(other)"); return
                }
            }
            #expect(subAck?.reasonCodes == [.grantedQoS1])
            #expect(pubAck?.packetID == PacketID(rawValue: 2))
            #expect(echoed?.text == "over websocket")
            let message = try await tcpSubscriber.next()
            #expect(message.text == "over websocket", "WebSocket and TCP clients share the broker")
            if let echoed, let echoedID = echoed.packetID {
                try await ws.send(frame: WebSocketConnection.binary, payload: ws.bytes(of: .pubAck(.init(packetID: echoedID))))
            }
            // And the other way round, TCP to WebSocket.
            try await tcpSubscriber.publish("ws/t", "from tcp", qos: .atMostOnce)
            let back = try await ws.expectPacket()
            #expect(back.publish?.text == "from tcp")
            await ws.raw.close()
            try await tcpSubscriber.disconnect()
        }
    }

    @Test("WebSocket: a fragmented message (binary + continuation) and a ping")
    func fragmentsAndPing() async throws {
        try await withNode { node in
            let (ws, _) = try await WebSocketConnection.open(port: node.wsPort)
            let connect = ws.bytes(of: .connect(.init(version: .v5, clientID: "ws-fragments")))
            try await ws.send(frames: [
                (WebSocketConnection.binary, false, Array(connect[..<3])),
                (WebSocketConnection.continuation, false, Array(connect[3..<7])),
                (WebSocketConnection.continuation, true, Array(connect[7...])),
            ])
            let packet = try await ws.expectPacket()
            #expect(packet.connAckValue?.reasonCode == .success, "got \(packet)")
            try await ws.send(frame: WebSocketConnection.ping, payload: Array("hi".utf8))
            let pong = try await ws.nextFrame()
            #expect(pong == .init(fin: true, opcode: WebSocketConnection.pong, payload: Array("hi".utf8)))
            await ws.raw.close()
        }
    }

    @Test("WebSocket: a path other than /mqtt, or a plain HTTP request, gets 404")
    func notFound() async throws {
        try await withNode { node in
            let (other, response) = try await WebSocketConnection.open(port: node.wsPort, path: "/other")
            #expect(response.status == 404)
            await other.raw.close()
            let (plain, plainResponse) = try await WebSocketConnection.open(port: node.wsPort, upgrade: false)
            #expect(plainResponse.status == 404)
            #expect(plainResponse.body.contains("/mqtt"))
            await plain.raw.close()
            // The listener still upgrades afterwards.
            let (ws, ok) = try await WebSocketConnection.open(port: node.wsPort)
            #expect(ok.status == 101)
            await ws.raw.close()
        }
    }

    @Test("WebSocket: a text frame closes the connection [MQTT-6.0.0-1]")
    func textFrameRefused() async throws {
        try await withNode { node in
            let (ws, _) = try await WebSocketConnection.open(port: node.wsPort)
            let connect = ws.bytes(of: .connect(.init(version: .v5, clientID: "ws-text")))
            try await ws.send(frame: WebSocketConnection.text, payload: connect)
            var frames: [WebSocketConnection.Frame] = []
            while let frame = try await ws.nextFrame() { frames.append(frame) }
            #expect(frames.allSatisfy { $0.opcode == WebSocketConnection.close }, "no CONNACK for a text frame: \(frames)")
        }
    }

    @Test("TLS: CONNECT, SUBSCRIBE and PUBLISH through openssl s_client, verified against the node's certificate")
    func tls() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (certificate, key) = try makeSelfSignedCertificate(in: directory)
        try await withNode(["--tls-cert", certificate, "--tls-key", key], tls: true) { node in
            let tcpSubscriber = try await TestClient.connect(node, "tcp-watch", version: .v3_1_1)
            try await tcpSubscriber.subscribe("tls/t", qos: .atLeastOnce)

            try await withOpenSSLClient(port: node.mqttsPort, caFile: certificate) { client in
                try client.send(bytes: Wire.connect(level: 4, clientID: "tls-client"))
                let connAck = try await client.nextPacket(within: .seconds(20))
                #expect(connAck == .connAck(.init(sessionPresent: false, reasonCode: .success)))
                // SUBSCRIBE id 1 to tls/t QoS 1, then PUBLISH QoS 1 id 2 to it, in one write.
                try client.send(bytes: Wire.packet(0x82, Wire.u16(1) + Wire.string("tls/t") + [0x01])
                    + Wire.packet(0x32, Wire.string("tls/t") + Wire.u16(2) + Array("secure".utf8)))
                var kinds: [MQTTPacket.Kind] = []
                var echoed: MQTTPacket.Publish?
                while kinds.count < 3, let packet = try await client.nextPacket() {
                    kinds.append(packet.kind)
                    if case .publish(let p) = packet { echoed = p }
                }
                #expect(Set(kinds) == [.subAck, .pubAck, .publish])
                #expect(echoed?.text == "secure")
            }
            let message = try await tcpSubscriber.next()
            #expect(message.text == "secure", "TLS and TCP clients share the broker")
            try await tcpSubscriber.disconnect()
        }
    }

    @Test("TLS: a client that does not trust the certificate fails the handshake; plain MQTT on the TLS port is closed")
    func tlsRefusals() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (certificate, key) = try makeSelfSignedCertificate(in: directory)
        let other = try TemporaryDirectory()
        defer { other.remove() }
        let (untrusted, _) = try makeSelfSignedCertificate(in: other)
        try await withNode(["--tls-cert", certificate, "--tls-key", key], tls: true) { node in
            try await withOpenSSLClient(port: node.mqttsPort, caFile: untrusted) { client in
                try? client.send(bytes: Wire.connect(level: 4, clientID: "distrustful"))
                let packet = try await client.nextPacket(within: .seconds(20))
                #expect(packet == nil, "no MQTT over an unverified connection")
            }

            let plain = try await RawConnection.open(port: node.mqttsPort, version: .v3_1_1)
            try await plain.send(bytes: Wire.connect(level: 4, clientID: "plaintext"))
            let received = try await plain.receive(within: .seconds(10), "the TLS listener to close") { buffer, _ -> Bool? in
                buffer.moveReaderIndex(to: buffer.writerIndex)  // a TLS alert, if any, is not MQTT
                return nil
            }
            #expect(received == nil, "closed")

            // The node still serves TLS clients.
            try await withOpenSSLClient(port: node.mqttsPort, caFile: certificate) { good in
                try good.send(bytes: Wire.connect(level: 4, clientID: "after"))
                let ack = try await good.nextPacket(within: .seconds(20))
                #expect(ack == .connAck(.init(sessionPresent: false, reasonCode: .success)))
            }
        }
    }
}

extension MQTTPacket {
    var connAckValue: MQTTPacket.ConnAck? {
        if case .connAck(let a) = self { return a }
        return nil
    }
}
