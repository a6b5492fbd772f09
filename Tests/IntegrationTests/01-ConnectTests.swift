import MQTTClient
import MQTTCore
import NIOCore
import Testing

/// CONNECT and CONNACK against a running node: negotiated properties, client identifiers, protocol levels, the
/// connect timeout, keep-alive and authentication.
@Suite("01 Connect", .timeLimit(.minutes(1)))
struct ConnectTests {
    @Test("v5 CONNACK advertises the server's limits and features")
    func connAckProperties() async throws {
        try await withNode(["--receive-maximum", "100", "--max-packet-size", "2048"]) { node in
            let (connection, ack) = try await RawConnection.connect(port: node.mqttPort, clientID: "props")
            #expect(ack.reasonCode == .success)
            #expect(ack.sessionPresent == false)
            let p = ack.properties
            #expect(p.receiveMaximum == 100)
            #expect(p.maximumPacketSize == 2048)
            #expect((p.topicAliasMaximum ?? 0) > 0)
            // Absent means available; a value, if sent, must be 1.
            #expect((p.retainAvailable ?? 1) == 1)
            #expect((p.wildcardSubscriptionAvailable ?? 1) == 1)
            #expect((p.subscriptionIdentifierAvailable ?? 1) == 1)
            #expect((p.sharedSubscriptionAvailable ?? 1) == 1)
            #expect(p.maximumQoS == nil, "QoS 2 is supported, so Maximum QoS must be absent")
            #expect(p.assignedClientIdentifier == nil, "the client sent an identifier")
            await connection.close()
        }
    }

    @Test("v3.1.1 CONNACK is plain success")
    func connAckV311() async throws {
        try await withNode { node in
            let (connection, ack) = try await RawConnection.connect(port: node.mqttPort, version: .v3_1_1, clientID: "v3")
            #expect(ack.reasonCode == .success)
            #expect(ack.sessionPresent == false)
            await connection.close()
        }
    }

    @Test("v5 empty client id gets an Assigned Client Identifier that names a working session")
    func assignedClientIdentifier() async throws {
        try await withNode { node in
            let client = try await TestClient.connect(node, nil, version: .v5)
            let assigned = try #require(client.connAck.properties.assignedClientIdentifier)
            #expect(!assigned.isEmpty)
            try await client.subscribe("assigned/t", qos: .atLeastOnce)
            try await client.publish("assigned/t", "hello", qos: .atLeastOnce)
            let message = try await client.next().text
            #expect(message == "hello")
            // A second empty-id client gets a different identifier (it does not take the first one over).
            let other = try await TestClient.connect(node, nil, version: .v5)
            #expect(other.connAck.properties.assignedClientIdentifier != assigned)
            try await other.publish("assigned/t", "still here", qos: .atLeastOnce)
            let message2 = try await client.next().text
            #expect(message2 == "still here")
            try await other.disconnect()
            try await client.disconnect()
        }
    }

    @Test("v3.1.1 empty client id: accepted with clean session, refused (return code 2) without")
    func emptyClientIDV311() async throws {
        try await withNode { node in
            let (clean, ack) = try await RawConnection.connect(
                port: node.mqttPort, version: .v3_1_1, clientID: "", cleanStart: true)
            #expect(ack.reasonCode == .success)
            await clean.close()

            let persistent = try await RawConnection.open(port: node.mqttPort, version: .v3_1_1)
            try await persistent.send(.connect(.init(version: .v3_1_1, clientID: "", cleanStart: false)))
            let packets = try await persistent.packetsUntilClosed()
            #expect(packets == [.connAck(.init(sessionPresent: false, reasonCode: .clientIdentifierNotValid))])
        }
    }

    @Test("an MQTT 3.1 (MQIsdp) client connects, subscribes and receives")
    func mqtt31() async throws {
        try await withNode { node in
            let connection = try await RawConnection.open(port: node.mqttPort, version: .v3_1)
            try await connection.send(bytes: Wire.connect(protocolName: "MQIsdp", level: 3, clientID: "old-client"))
            let ack = try await connection.expectPacket()
            #expect(ack == .connAck(.init(sessionPresent: false, reasonCode: .success)))
            // SUBSCRIBE id 1 to "v31/t" QoS 1, then PUBLISH QoS 1 id 2 to it.
            try await connection.send(bytes: Wire.packet(0x82, Wire.u16(1) + Wire.string("v31/t") + [0x01]))
            let packet = try await connection.expectPacket()
            #expect(packet == .subAck(.init(packetID: PacketID(rawValue: 1)!, reasonCodes: [.grantedQoS1])))
            try await connection.send(bytes: Wire.packet(0x32, Wire.string("v31/t") + Wire.u16(2) + Array("old".utf8)))
            var sawAck = false
            var delivered: MQTTPacket.Publish?
            while !sawAck || delivered == nil {
                switch try await connection.expectPacket() {
                case .pubAck(let a): #expect(a.packetID.rawValue == 2); sawAck = true
                case .publish(let p): delivered = p
                case let other: Issue.record("unexpected \(other)"); return
                }
            }
            #expect(delivered?.text == "old")
            #expect(delivered?.qos == .atLeastOnce)
            await connection.close()
        }
    }

    @Test("CONNECT, SUBSCRIBE and PUBLISH in one write are handled in order", arguments: [MQTTProtocolVersion.v3_1_1, .v5])
    func pipelinedAfterConnect(version: MQTTProtocolVersion) async throws {
        try await withNode { node in
            let connection = try await RawConnection.open(port: node.mqttPort, version: version)
            var bytes = ByteBuffer()
            MQTTPacket.connect(.init(version: version, clientID: "eager")).encode(version: version, into: &bytes)
            MQTTPacket.subscribe(.init(
                packetID: PacketID(rawValue: 1)!, subscriptions: [.init(filter: "eager/t", options: .init(qos: .atLeastOnce))]))
                .encode(version: version, into: &bytes)
            MQTTPacket.publish(.init(
                topic: "eager/t", payload: ByteBuffer(string: "early"), qos: .atLeastOnce, packetID: PacketID(rawValue: 2)!))
                .encode(version: version, into: &bytes)
            try await connection.send(buffer: bytes)
            var kinds: [MQTTPacket.Kind] = []
            var echoed: MQTTPacket.Publish?
            while kinds.count < 4 {
                let packet = try await connection.expectPacket()
                kinds.append(packet.kind)
                if case .publish(let p) = packet { echoed = p }
            }
            #expect(kinds.first == .connAck)
            #expect(Array(kinds.prefix(2)) == [.connAck, .subAck], "SUBACK after CONNACK, before the PUBLISH's effects")
            #expect(Set(kinds.suffix(2)) == [.pubAck, .publish])
            #expect(echoed?.text == "early")
            await connection.close()
        }
    }

    @Test("a connection that never sends CONNECT is closed after --connect-timeout")
    func connectTimeout() async throws {
        try await withNode(["--connect-timeout", "1"]) { node in
            let start = ContinuousClock.now
            let connection = try await RawConnection.open(port: node.mqttPort)
            let packets = try await connection.packetsUntilClosed(within: .seconds(10))
            let elapsed = ContinuousClock.now - start
            #expect(packets.isEmpty)
            #expect(elapsed >= .milliseconds(900), "closed after \(elapsed), before the 1 s timeout")
            #expect(elapsed < .seconds(5), "closed only after \(elapsed)")
        }
    }

    @Test("keep-alive: a silent v5 client gets DISCONNECT 0x8D after 1.5 × keep-alive")
    func keepAliveV5() async throws {
        try await withNode { node in
            // The server counts from the CONNECT it received, so the clock starts before it is sent.
            let start = ContinuousClock.now
            let (connection, _) = try await RawConnection.connect(port: node.mqttPort, clientID: "silent5", keepAlive: 1)
            let packets = try await connection.packetsUntilClosed(within: .seconds(10))
            let elapsed = ContinuousClock.now - start
            #expect(packets.map(\.disconnectReason) == [.keepAliveTimeout])
            #expect(elapsed >= .milliseconds(1400), "disconnected after \(elapsed)")
            #expect(elapsed < .seconds(5), "disconnected only after \(elapsed)")
        }
    }

    @Test("keep-alive: a silent v3.1.1 client is closed after 1.5 × keep-alive")
    func keepAliveV311() async throws {
        try await withNode { node in
            let start = ContinuousClock.now
            let (connection, _) = try await RawConnection.connect(
                port: node.mqttPort, version: .v3_1_1, clientID: "silent3", keepAlive: 1)
            let packets = try await connection.packetsUntilClosed(within: .seconds(10))
            let elapsed = ContinuousClock.now - start
            #expect(packets.isEmpty)
            #expect(elapsed >= .milliseconds(1400), "closed after \(elapsed)")
            #expect(elapsed < .seconds(5), "closed only after \(elapsed)")
        }
    }

    @Test("keep-alive: PINGREQ keeps a connection open past 1.5 × keep-alive")
    func pingKeepsAlive() async throws {
        try await withNode { node in
            let (connection, _) = try await RawConnection.connect(port: node.mqttPort, clientID: "pinger", keepAlive: 2)
            let start = ContinuousClock.now
            // Ping twice a second (the client's behaviour under test, not a synchronisation) for 6 s: twice the 3 s
            // timeout, with 2.5 s of slack for a loaded machine.
            while ContinuousClock.now - start < .seconds(6) {
                try await connection.send(.pingReq)
                let pong = try await connection.expectPacket()
                #expect(pong == .pingResp)
                try await Task.sleep(for: .milliseconds(500))
            }
            try await connection.send(.pingReq)
            let last = try await connection.expectPacket()
            #expect(last == .pingResp)
            await connection.close()
        }
    }

    @Test("--max-keepalive caps the keep-alive and v5 CONNACK says so in Server Keep Alive")
    func serverKeepAlive() async throws {
        try await withNode(["--max-keepalive", "5"]) { node in
            for (asked, expected) in [(UInt16(60), UInt16?(5)), (0, 5), (3, nil)] {
                let (connection, ack) = try await RawConnection.connect(
                    port: node.mqttPort, clientID: "ka-\(asked)", keepAlive: asked)
                #expect(ack.properties.serverKeepAlive == expected, "keep-alive \(asked)")
                await connection.close()
            }
        }
    }

    @Test("v5: the Server Keep Alive is enforced, also for a client that asked for none")
    func serverKeepAliveEnforced() async throws {
        try await withNode(["--max-keepalive", "1"]) { node in
            for asked: UInt16 in [60, 0] {
                let start = ContinuousClock.now
                let (connection, ack) = try await RawConnection.connect(
                    port: node.mqttPort, clientID: "capped-\(asked)", keepAlive: asked)
                #expect(ack.properties.serverKeepAlive == 1)
                let packets = try await connection.packetsUntilClosed(within: .seconds(10))
                let elapsed = ContinuousClock.now - start
                #expect(packets.map(\.disconnectReason) == [.keepAliveTimeout], "keep-alive \(asked)")
                #expect(elapsed >= .milliseconds(1400), "disconnected after \(elapsed)")
                #expect(elapsed < .seconds(5), "disconnected only after \(elapsed)")
            }
        }
    }

    @Test("a second CONNECT is a protocol error", arguments: [MQTTProtocolVersion.v3_1_1, .v5])
    func secondConnect(version: MQTTProtocolVersion) async throws {
        try await withNode { node in
            let (connection, _) = try await RawConnection.connect(port: node.mqttPort, version: version, clientID: "twice")
            try await connection.send(.connect(.init(version: version, clientID: "twice")))
            let packets = try await connection.packetsUntilClosed()
            if version == .v5 {
                #expect(packets.map(\.disconnectReason) == [.protocolError])
            } else {
                #expect(packets.isEmpty)
            }
        }
    }
}

/// Authentication at CONNECT with a password file written by mosquitto_passwd.
@Suite("01 Connect: authentication", .timeLimit(.minutes(1)))
struct ConnectAuthTests {
    static func refusal(
        _ node: NodeProcess, version: MQTTProtocolVersion, username: String?, password: String?
    ) async -> MQTTReasonCode? {
        do {
            let client = try await TestClient.connect(node, "auth-\(username ?? "anon")", version: version) { config in
                config.username = username
                config.password = password.map { ByteBuffer(string: $0) }
            }
            try? await client.disconnect()
            return nil
        } catch let error as MQTTClientError {
            return error.refusal ?? MQTTReasonCode(rawValue: 0xFF)
        } catch {
            return MQTTReasonCode(rawValue: 0xFF)
        }
    }

    @Test("wrong password, unknown user, right password", arguments: [MQTTProtocolVersion.v3_1_1, .v5])
    func passwords(version: MQTTProtocolVersion) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let passwords = try makePasswordFile(in: directory, users: [("alice", "secret"), ("bob", "hunter2")])
        try await withNode(["--password-file", passwords]) { node in
            // v3 return code 4 decodes to 0x86 (bad user name or password).
            #expect(await Self.refusal(node, version: version, username: "alice", password: "wrong") == .badUserNameOrPassword)
            #expect(await Self.refusal(node, version: version, username: "mallory", password: "secret") == .badUserNameOrPassword)
            #expect(await Self.refusal(node, version: version, username: "alice", password: nil) == .badUserNameOrPassword)
            #expect(await Self.refusal(node, version: version, username: "alice", password: "secret") == nil)
            #expect(await Self.refusal(node, version: version, username: "bob", password: "hunter2") == nil)
        }
    }

    @Test("--no-allow-anonymous refuses a client without user name", arguments: [MQTTProtocolVersion.v3_1_1, .v5])
    func anonymousRefused(version: MQTTProtocolVersion) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let passwords = try makePasswordFile(in: directory, users: [("alice", "secret")])
        try await withNode(["--password-file", passwords, "--no-allow-anonymous"]) { node in
            // v3 return code 5 decodes to 0x87 (not authorized).
            #expect(await Self.refusal(node, version: version, username: nil, password: nil) == .notAuthorized)
            #expect(await Self.refusal(node, version: version, username: "alice", password: "secret") == nil)
        }
    }

    @Test("a refused CONNECT gets CONNACK on the wire and then the connection closes")
    func refusedOnTheWire() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let passwords = try makePasswordFile(in: directory, users: [("alice", "secret")])
        try await withNode(["--password-file", passwords]) { node in
            for version in [MQTTProtocolVersion.v3_1_1, .v5] {
                let connection = try await RawConnection.open(port: node.mqttPort, version: version)
                try await connection.send(
                    .connect(.init(
                        version: version, clientID: "wire", username: "alice", password: ByteBuffer(string: "nope"))))
                let packets = try await connection.packetsUntilClosed()
                #expect(packets == [.connAck(.init(sessionPresent: false, reasonCode: .badUserNameOrPassword))],
                    "\(version)")
            }
        }
    }
}
