import MQTTClient
import MQTTCore
import NIOCore
import Testing

/// More of the session: the server's in-flight cap, the Session Expiry Interval in DISCONNECT, and acknowledgements
/// for packet identifiers the session does not know.
extension SessionTests {
    @Test("--max-inflight caps the window even when the client allows more")
    func maxInflight() async throws {
        try await withNode(["--max-inflight", "3"]) { node in
            let subscriber = try await TestClient.connect(node, "capped") { config in
                config.autoAck = false
                config.connectProperties.receiveMaximum = 100
            }
            try await subscriber.subscribe("cap/t", qos: .atLeastOnce)
            let publisher = try await TestClient.connect(node, "cap-pub")
            for i in 1...6 { try await publisher.publish("cap/t", "\(i)", qos: .atLeastOnce) }
            try await publisher.publish("cap/t", "END", qos: .atMostOnce)
            let first = try await subscriber.messages(before: "END")
            #expect(first.map(\.text) == ["1", "2", "3"])
            for message in first { subscriber.client.ack(message) }
            let rest = try await subscriber.receive(3)
            #expect(rest.map(\.text) == ["4", "5", "6"])
            for message in rest { subscriber.client.ack(message) }
            try await publisher.disconnect()
            try await subscriber.disconnect()
        }
    }

    @Test("v5 DISCONNECT with Session Expiry 0 ends a session that was meant to last")
    func disconnectEndsSession() async throws {
        try await withNode { node in
            let watcher = try await TestClient.connect(node, "watcher")
            try await watcher.watchSys("sessions/count")
            let client = try await Self.persistent(node, "changes-mind", version: .v5)
            try await client.subscribe("mind/t")
            _ = try await watcher.messages(untilSys: "sessions/count") { $0 == 2 }
            var properties = MQTTProperties()
            properties.sessionExpiryInterval = 0
            try await client.disconnect(properties: properties)
            // The session count drops once the detach is done; reconnecting earlier could race it.
            _ = try await watcher.messages(untilSys: "sessions/count") { $0 == 1 }
            let again = try await Self.persistent(node, "changes-mind", version: .v5)
            #expect(again.connAck.sessionPresent == false)
            try await again.disconnect()
            try await watcher.disconnect()
        }
    }

    @Test("v5 DISCONNECT may not set a Session Expiry after CONNECT said 0 [MQTT-3.14.2-2]")
    func disconnectCannotExtendZeroExpiry() async throws {
        try await withNode { node in
            let (raw, _) = try await RawConnection.connect(port: node.mqttPort, clientID: "extender")
            var properties = MQTTProperties()
            properties.sessionExpiryInterval = 30
            try await raw.send(.disconnect(.init(reasonCode: .normalDisconnection, properties: properties)))
            let closing = try await raw.packetsUntilClosed()
            #expect(closing.map(\.disconnectReason) == [.protocolError])
        }
    }

    @Test("PUBREL for an unknown packet identifier is completed (v5: 0x92); a stray PUBACK is ignored", arguments: versions)
    func unknownPacketIdentifiers(version: MQTTProtocolVersion) async throws {
        try await withNode { node in
            let (raw, _) = try await RawConnection.connect(port: node.mqttPort, version: version, clientID: "stray")
            let id = PacketID(rawValue: 9)!
            try await raw.send(.pubRel(.init(packetID: id)))
            let completion = try await raw.expectPacket()
            let expected: MQTTReasonCode = version == .v5 ? .packetIdentifierNotFound : .success
            #expect(completion == .pubComp(.init(packetID: id, reasonCode: expected)))
            try await raw.send(.pubAck(.init(packetID: PacketID(rawValue: 10)!)))
            try await raw.send(.pubComp(.init(packetID: PacketID(rawValue: 11)!)))
            try await raw.send(.pingReq)
            let pong = try await raw.expectPacket()
            #expect(pong == .pingResp, "the connection is still up")
            await raw.close()
        }
    }

    @Test("messages dropped from a full session queue are counted in $SYS …/messages/dropped")
    func queueDropsAreCounted() async throws {
        try await withNode(["--session-queue", "5"]) { node in
            let watcher = try await TestClient.connect(node, "drop-watch")
            try await watcher.watchSys("messages/dropped")
            let subscriber = try await Self.persistent(node, "overflowing", version: .v5)
            try await subscriber.subscribe("drop/t", qos: .atLeastOnce)
            try await subscriber.disconnect()
            let publisher = try await TestClient.connect(node, "drop-pub")
            for i in 1...10 { try await publisher.publish("drop/t", "\(i)", qos: .atLeastOnce) }
            var last = -1
            do {
                _ = try await watcher.messages(untilSys: "messages/dropped", within: .seconds(10)) { value in
                    last = value
                    return value >= 5
                }
            } catch is TimedOut {
                Issue.record("messages/dropped is \(last) after 5 messages were dropped from a full session queue")
            }
            try await publisher.disconnect()
            try await watcher.disconnect()
        }
    }

    @Test("v5: messages resent on reconnect respect the new connection's Receive Maximum")
    func resendRespectsReceiveMaximum() async throws {
        try await withNode { node in
            let first = try await Self.persistent(node, "shrinking", version: .v5) { config in
                config.autoAck = false
                config.connectProperties.receiveMaximum = 10
            }
            try await first.subscribe("shrink/t", qos: .atLeastOnce)
            let publisher = try await TestClient.connect(node, "shrink-pub")
            for i in 1...5 { try await publisher.publish("shrink/t", "\(i)", qos: .atLeastOnce) }
            #expect(try await first.receive(5).count == 5)
            await first.close()  // five unacknowledged

            let second = try await Self.persistent(node, "shrinking", version: .v5) { config in
                config.autoAck = false
                config.connectProperties.receiveMaximum = 2
            }
            try await publisher.publish("shrink/t", "END", qos: .atMostOnce)
            let resent = try await second.messages(before: "END")
            try #require(resent.map(\.text) == ["1", "2"], "at most Receive Maximum (2) unacknowledged PUBLISHes [MQTT-3.3.4-9]")
            for message in resent { second.client.ack(message) }
            // Still at most two unacknowledged at a time: 3 and 4, then 5 once they are acknowledged.
            let next = try await second.receive(2)
            #expect(next.map(\.text) == ["3", "4"])
            for message in next { second.client.ack(message) }
            let last = try await second.receive(1)
            #expect(last.map(\.text) == ["5"])
            for message in last { second.client.ack(message) }
            try await publisher.disconnect()
            try await second.disconnect()
        }
    }
}
