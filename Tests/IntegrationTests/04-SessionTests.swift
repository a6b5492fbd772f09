import MQTTClient
import MQTTCore
import NIOCore
import Testing

/// Sessions across connections: queueing while offline, clean start, expiry, redelivery, exactly-once across a
/// reconnect, takeover, the in-flight window and the bounded queue.
@Suite("04 Session", .timeLimit(.minutes(1)))
struct SessionTests {
    static let versions: [MQTTProtocolVersion] = [.v3_1_1, .v5]

    /// A client whose session outlives the connection: clean session 0 (v3) or Session Expiry 60 s (v5).
    static func persistent(
        _ node: NodeProcess, _ id: String, version: MQTTProtocolVersion, cleanStart: Bool = false,
        configure: (inout MQTTClientConfiguration) -> Void = { _ in }
    ) async throws -> TestClient {
        try await TestClient.connect(node, id, version: version, cleanStart: cleanStart) { config in
            if version == .v5 { config.connectProperties.sessionExpiryInterval = 60 }
            configure(&config)
        }
    }

    static func persistentProperties(_ version: MQTTProtocolVersion) -> MQTTProperties {
        var properties = MQTTProperties()
        if version == .v5 { properties.sessionExpiryInterval = 60 }
        return properties
    }

    @Test("a persistent session queues messages while offline and reports session present", arguments: versions)
    func queuesWhileOffline(version: MQTTProtocolVersion) async throws {
        try await withNode { node in
            let first = try await Self.persistent(node, "offline", version: version)
            #expect(first.connAck.sessionPresent == false)
            try await first.subscribe("sess/t", qos: .exactlyOnce)
            try await first.disconnect()

            let publisher = try await TestClient.connect(node, "offline-pub", version: version)
            try await publisher.publish("sess/t", "a", qos: .atLeastOnce)
            try await publisher.publish("sess/t", "b", qos: .exactlyOnce)
            try await publisher.publish("sess/t", "c", qos: .atMostOnce)

            let again = try await Self.persistent(node, "offline", version: version)
            #expect(again.connAck.sessionPresent == true)
            let queued = try await again.receive(3)
            #expect(queued.map(\.text) == ["a", "b", "c"])
            #expect(queued.map(\.qos) == [.atLeastOnce, .exactlyOnce, .atMostOnce])
            // The subscription survived too.
            try await publisher.publish("sess/t", "live", qos: .atLeastOnce)
            let message = try await again.next().text
            #expect(message == "live")
            try await publisher.disconnect()
            try await again.disconnect()
        }
    }

    @Test("clean start discards the stored session", arguments: versions)
    func cleanStartDiscards(version: MQTTProtocolVersion) async throws {
        try await withNode { node in
            let first = try await Self.persistent(node, "cleaned", version: version)
            try await first.subscribe("clean/t", qos: .atLeastOnce)
            try await first.disconnect()
            let publisher = try await TestClient.connect(node, "clean-pub", version: version)
            try await publisher.publish("clean/t", "stale", qos: .atLeastOnce)

            let fresh = try await Self.persistent(node, "cleaned", version: version, cleanStart: true)
            #expect(fresh.connAck.sessionPresent == false)
            try await fresh.subscribe("clean/marker", qos: .atLeastOnce)
            try await publisher.publish("clean/t", "after", qos: .atLeastOnce)
            try await publisher.publish("clean/marker", "END", qos: .atLeastOnce)
            let before = try await fresh.messages(before: "END").map(\.text)
            #expect(before == [], "neither queued nor subscribed")
            try await publisher.disconnect()
            try await fresh.disconnect()
        }
    }

    @Test("v5 Session Expiry 0 ends the session at disconnect")
    func expiryZero() async throws {
        try await withNode { node in
            let first = try await TestClient.connect(node, "zero", cleanStart: false)
            try await first.subscribe("zero/t", qos: .atLeastOnce)
            try await first.disconnect()
            let publisher = try await TestClient.connect(node, "zero-pub")
            try await publisher.publish("zero/t", "lost", qos: .atLeastOnce)
            let again = try await TestClient.connect(node, "zero", cleanStart: false)
            #expect(again.connAck.sessionPresent == false)
            try await again.subscribe("zero/marker")
            try await publisher.publish("zero/marker", "END", qos: .atLeastOnce)
            let nothing1 = try await again.messages(before: "END").map(\.text)
            #expect(nothing1 == [])
            try await publisher.disconnect()
            try await again.disconnect()
        }
    }

    @Test("v5 session expiry elapses: the session is gone after its interval, a longer one stays")
    func expiryElapses() async throws {
        try await withNode { node in
            let watcher = try await TestClient.connect(node, "watcher")
            try await watcher.watchSys("sessions/count")
            let short = try await TestClient.connect(node, "short", cleanStart: false) {
                $0.connectProperties.sessionExpiryInterval = 1
            }
            try await short.subscribe("exp/t")
            let long = try await Self.persistent(node, "long", version: .v5)
            try await long.subscribe("exp/t")
            // watcher + short + long.
            _ = try await watcher.messages(untilSys: "sessions/count") { $0 == 3 }
            try await short.disconnect()
            let disconnected = ContinuousClock.now
            try await long.disconnect()
            _ = try await watcher.messages(untilSys: "sessions/count") { $0 == 2 }
            let elapsed = ContinuousClock.now - disconnected
            #expect(elapsed >= .milliseconds(900), "session ended \(elapsed) after disconnect, before its 1 s expiry")

            let shortAgain = try await TestClient.connect(node, "short", cleanStart: false)
            #expect(shortAgain.connAck.sessionPresent == false)
            let longAgain = try await Self.persistent(node, "long", version: .v5)
            #expect(longAgain.connAck.sessionPresent == true)
            for client in [watcher, shortAgain, longAgain] { try await client.disconnect() }
        }
    }

    @Test("an unacknowledged QoS 1 message is resent with DUP after reconnect", arguments: versions)
    func redeliveryWithDup(version: MQTTProtocolVersion) async throws {
        try await withNode { node in
            let subscriber = try await Self.persistent(node, "forgetful", version: version) { $0.autoAck = false }
            try await subscriber.subscribe("redo/t", qos: .atLeastOnce)
            let publisher = try await TestClient.connect(node, "redo-pub", version: version)
            try await publisher.publish("redo/t", "again", qos: .atLeastOnce)
            let original = try await subscriber.next()
            #expect(original.text == "again")
            #expect(original.dup == false)
            await subscriber.close()  // no PUBACK

            let back = try await Self.persistent(node, "forgetful", version: version) { $0.autoAck = false }
            #expect(back.connAck.sessionPresent)
            let resent = try await back.next()
            #expect(resent.text == "again")
            #expect(resent.dup == true)
            #expect(resent.packetID == original.packetID)
            back.client.ack(resent)
            try await publisher.publish("redo/t", "next", qos: .atLeastOnce)
            let next = try await back.next()
            #expect(next.text == "next")
            back.client.ack(next)
            // A round trip on the same connection: its PUBACK means the server has handled the acks sent before it.
            // (Without it, a reconnect can attach before the old connection's PUBACK is processed, and the message
            // is resent, which QoS 1 allows.)
            try await back.publish("redo/sync", "sync", qos: .atLeastOnce)
            try await back.disconnect()

            // Acknowledged now: a third connection gets nothing resent.
            let third = try await Self.persistent(node, "forgetful", version: version)
            try await publisher.publish("redo/t", "END", qos: .atLeastOnce)
            let before = try await third.messages(before: "END").map(\.text)
            #expect(before == [])
            try await publisher.disconnect()
            try await third.disconnect()
        }
    }

    @Test("incoming QoS 2 is delivered exactly once when the publisher reconnects before PUBREL", arguments: versions)
    func inboundExactlyOnceAcrossReconnect(version: MQTTProtocolVersion) async throws {
        try await withNode { node in
            let subscriber = try await TestClient.connect(node, "once-sub", version: version)
            try await subscriber.subscribe("once/t", qos: .exactlyOnce)
            let id = PacketID(rawValue: 7)!
            let publish = MQTTPacket.Publish(
                topic: "once/t", payload: ByteBuffer(string: "once"), qos: .exactlyOnce, packetID: id)

            let (first, _) = try await RawConnection.connect(
                port: node.mqttPort, version: version, clientID: "once-pub", cleanStart: false,
                properties: Self.persistentProperties(version))
            try await first.send(.publish(publish))
            let packet = try await first.expectPacket()
            #expect(packet == .pubRec(.init(packetID: id)))
            await first.close()

            let (second, ack) = try await RawConnection.connect(
                port: node.mqttPort, version: version, clientID: "once-pub", cleanStart: false,
                properties: Self.persistentProperties(version))
            #expect(ack.sessionPresent)
            var duplicate = publish
            duplicate.dup = true
            try await second.send(.publish(duplicate))
            let packet2 = try await second.expectPacket()
            #expect(packet2 == .pubRec(.init(packetID: id)))
            try await second.send(.pubRel(.init(packetID: id)))
            let packet3 = try await second.expectPacket()
            #expect(packet3 == .pubComp(.init(packetID: id)))
            let marker = PacketID(rawValue: 8)!
            try await second.send(.publish(.init(topic: "once/t", payload: ByteBuffer(string: "END"), qos: .atLeastOnce, packetID: marker)))
            let packet4 = try await second.expectPacket()
            #expect(packet4 == .pubAck(.init(packetID: marker)))
            let before = try await subscriber.messages(before: "END").map(\.text)
            #expect(before == ["once"])
            await second.close()
            try await subscriber.disconnect()
        }
    }

    @Test("outgoing QoS 2: PUBREL (not the PUBLISH) is resent after reconnect", arguments: versions)
    func pubRelResent(version: MQTTProtocolVersion) async throws {
        try await withNode { node in
            let properties = Self.persistentProperties(version)
            let (first, _) = try await RawConnection.connect(
                port: node.mqttPort, version: version, clientID: "rel-sub", cleanStart: false, properties: properties)
            let subscribeID = PacketID(rawValue: 1)!
            try await first.send(.subscribe(.init(
                packetID: subscribeID, subscriptions: [.init(filter: "rel/t", options: .init(qos: .exactlyOnce))])))
            let packet = try await first.expectPacket()
            #expect(packet == .subAck(.init(packetID: subscribeID, reasonCodes: [.grantedQoS2])))
            let publisher = try await TestClient.connect(node, "rel-pub", version: version)
            try await publisher.publish("rel/t", "two-step", qos: .exactlyOnce)

            let delivered = try #require(try await first.expectPacket().publish)
            #expect(delivered.text == "two-step")
            let id = try #require(delivered.packetID)
            try await first.send(.pubRec(.init(packetID: id)))
            let packet2 = try await first.expectPacket()
            #expect(packet2 == .pubRel(.init(packetID: id)))
            await first.close()  // no PUBCOMP

            let (second, ack) = try await RawConnection.connect(
                port: node.mqttPort, version: version, clientID: "rel-sub", cleanStart: false, properties: properties)
            #expect(ack.sessionPresent)
            let packet3 = try await second.expectPacket()
            #expect(packet3 == .pubRel(.init(packetID: id)))
            try await second.send(.pubComp(.init(packetID: id)))
            try await publisher.publish("rel/t", "next", qos: .atMostOnce)
            let next = try #require(try await second.expectPacket().publish)
            #expect(next.text == "next", "the completed message is not sent again")
            await second.close()
            try await publisher.disconnect()
        }
    }

    @Test("takeover: the old connection is told 0x8E (v5) or closed (v3); the session continues", arguments: versions)
    func takeover(version: MQTTProtocolVersion) async throws {
        try await withNode { node in
            let properties = Self.persistentProperties(version)
            let (old, _) = try await RawConnection.connect(
                port: node.mqttPort, version: version, clientID: "taken", cleanStart: false, properties: properties)
            let subscribeID = PacketID(rawValue: 1)!
            try await old.send(.subscribe(.init(
                packetID: subscribeID, subscriptions: [.init(filter: "take/t", options: .init(qos: .atLeastOnce))])))
            _ = try await old.expectPacket()

            let new = try await Self.persistent(node, "taken", version: version)
            #expect(new.connAck.sessionPresent)
            let oldPackets = try await old.packetsUntilClosed()
            if version == .v5 {
                #expect(oldPackets.map(\.disconnectReason) == [.sessionTakenOver])
            } else {
                #expect(oldPackets.isEmpty)
            }
            let publisher = try await TestClient.connect(node, "take-pub", version: version)
            try await publisher.publish("take/t", "to the new one", qos: .atLeastOnce)
            let message = try await new.next().text
            #expect(message == "to the new one")
            try await publisher.disconnect()
            try await new.disconnect()
        }
    }

    @Test("takeover with clean start: old connection told 0x8E and the session starts afresh")
    func takeoverCleanStart() async throws {
        try await withNode { node in
            let (old, _) = try await RawConnection.connect(
                port: node.mqttPort, clientID: "replaced", cleanStart: false, properties: Self.persistentProperties(.v5))
            let new = try await TestClient.connect(node, "replaced", cleanStart: true)
            #expect(new.connAck.sessionPresent == false)
            let closing = try await old.packetsUntilClosed().map(\.disconnectReason)
            #expect(closing == [.sessionTakenOver])
            try await new.disconnect()
        }
    }

    @Test("the in-flight window honours the client's Receive Maximum")
    func receiveMaximumWindow() async throws {
        try await withNode { node in
            let subscriber = try await TestClient.connect(node, "narrow") { config in
                config.autoAck = false
                config.connectProperties.receiveMaximum = 2
            }
            try await subscriber.subscribe("win/t", qos: .atLeastOnce)
            let publisher = try await TestClient.connect(node, "win-pub")
            for i in 1...5 { try await publisher.publish("win/t", "\(i)", qos: .atLeastOnce) }
            // A QoS 0 marker is not held by the window, so it overtakes the queued QoS 1 messages.
            try await publisher.publish("win/t", "END", qos: .atMostOnce)
            let first = try await subscriber.messages(before: "END")
            #expect(first.map(\.text) == ["1", "2"], "exactly Receive Maximum unacknowledged messages")
            subscriber.client.ack(first[0])
            let third = try await subscriber.next()
            #expect(third.text == "3")
            try await publisher.publish("win/t", "END2", qos: .atMostOnce)
            let nothing2 = try await subscriber.messages(before: "END2").map(\.text)
            #expect(nothing2 == [], "one PUBACK frees one slot")
            subscriber.client.ack(first[1])
            subscriber.client.ack(third)
            let rest = try await subscriber.receive(2)
            #expect(rest.map(\.text) == ["4", "5"])
            for message in rest { subscriber.client.ack(message) }
            try await publisher.disconnect()
            try await subscriber.disconnect()
        }
    }

    @Test("--session-queue bounds an offline session; the newest messages are kept", arguments: versions)
    func boundedQueue(version: MQTTProtocolVersion) async throws {
        try await withNode(["--session-queue", "5"]) { node in
            // Messages published right after a DISCONNECT could reach the session before it has processed the
            // DISCONNECT (they come from another connection); $SYS clients/connected says when it has.
            let watcher = try await TestClient.connect(node, "bq-watch")
            try await watcher.watchSys("clients/connected")
            let publisher = try await TestClient.connect(node, "bq-pub", version: version)
            let subscriber = try await Self.persistent(node, "bounded", version: version)
            try await subscriber.subscribe("bq/t", qos: .atLeastOnce)
            _ = try await watcher.messages(untilSys: "clients/connected") { $0 == 3 }
            try await subscriber.disconnect()
            _ = try await watcher.messages(untilSys: "clients/connected") { $0 == 2 }
            for i in 1...10 { try await publisher.publish("bq/t", "\(i)", qos: .atLeastOnce) }
            let back = try await Self.persistent(node, "bounded", version: version)
            try await publisher.publish("bq/t", "END", qos: .atLeastOnce)
            let before = try await back.messages(before: "END").map(\.text)
            #expect(before == ["6", "7", "8", "9", "10"])
            _ = try await watcher.messages(untilSys: "clients/connected") { $0 == 3 }
            try await back.disconnect()
            _ = try await watcher.messages(untilSys: "clients/connected") { $0 == 2 }

            // The oldest QoS 0 message goes first when the queue is full.
            for (payload, qos) in [("A", MQTTQoS.atLeastOnce), ("B", .atMostOnce), ("C", .atLeastOnce),
                                   ("D", .atLeastOnce), ("E", .atLeastOnce), ("F", .atLeastOnce)] {
                try await publisher.publish("bq/t", payload, qos: qos)
            }
            let third = try await Self.persistent(node, "bounded", version: version)
            try await publisher.publish("bq/t", "END", qos: .atLeastOnce)
            let before2 = try await third.messages(before: "END").map(\.text)
            #expect(before2 == ["A", "C", "D", "E", "F"])
            try await publisher.disconnect()
            try await third.disconnect()
            try await watcher.disconnect()
        }
    }
}
