import MQTTClient
import MQTTCore
import NIOCore
import Testing

/// Last Will and Testament: when it is published, when it is not, and its delay.
@Suite("05 Will", .timeLimit(.minutes(1)))
struct WillTests {
    static let versions: [MQTTProtocolVersion] = [.v3_1_1, .v5]

    static func will(
        _ payload: String, topic: TopicName = "will/t", qos: MQTTQoS = .atLeastOnce, retain: Bool = false,
        delay: UInt32? = nil
    ) -> MQTTPacket.Will {
        var properties = MQTTProperties()
        properties.willDelayInterval = delay
        return MQTTPacket.Will(topic: topic, payload: ByteBuffer(string: payload), qos: qos, retain: retain, properties: properties)
    }

    /// A client with a will; v5 clients get a Session Expiry so that a delay can matter.
    static func client(
        _ node: NodeProcess, _ id: String, version: MQTTProtocolVersion, will: MQTTPacket.Will,
        sessionExpiry: UInt32? = nil
    ) async throws -> TestClient {
        try await TestClient.connect(node, id, version: version) { config in
            config.will = will
            if let sessionExpiry { config.connectProperties.sessionExpiryInterval = sessionExpiry }
        }
    }

    /// A subscriber to the will topic that also watches `$SYS/…/sessions/count`.
    static func watcher(_ node: NodeProcess, version: MQTTProtocolVersion = .v5) async throws -> TestClient {
        let watcher = try await TestClient.connect(node, "watcher", version: version)
        try await watcher.subscribe("will/#", qos: .atLeastOnce)
        try await watcher.watchSys("sessions/count")
        return watcher
    }

    @Test("the will is published when the connection drops without DISCONNECT", arguments: versions)
    func abruptClose(version: MQTTProtocolVersion) async throws {
        try await withNode { node in
            let watcher = try await Self.watcher(node)
            var will = Self.will("gone")
            if version == .v5 {
                will.properties.contentType = "text/plain"
                will.properties.userProperties = [.init("why", "test")]
            }
            let client = try await Self.client(node, "dropper", version: version, will: will)
            await client.close()
            let message = try await watcher.next(on: "will/t")
            #expect(message.text == "gone")
            #expect(message.qos == .atLeastOnce)
            #expect(message.retain == false)
            if version == .v5 {
                #expect(message.properties.contentType == "text/plain")
                #expect(message.properties.userProperties == [.init("why", "test")])
            }
            try await watcher.disconnect()
        }
    }

    @Test("a taken-over connection's will is published (it ended without DISCONNECT)", arguments: versions)
    func takeoverPublishesWill(version: MQTTProtocolVersion) async throws {
        try await withNode { node in
            let watcher = try await Self.watcher(node)
            let first = try await TestClient.connect(node, "twin", version: version, cleanStart: false) { config in
                config.will = Self.will("replaced")
                if version == .v5 { config.connectProperties.sessionExpiryInterval = 60 }
            }
            let second = try await TestClient.connect(node, "twin", version: version, cleanStart: false) { config in
                if version == .v5 { config.connectProperties.sessionExpiryInterval = 60 }
            }
            let message = try await watcher.next(on: "will/t")
            #expect(message.text == "replaced")
            _ = await first.client.waitUntilClosed()
            try await second.disconnect()
            try await watcher.disconnect()
        }
    }

    @Test("v5 will properties and Message Expiry pass through to subscribers")
    func willProperties() async throws {
        try await withNode { node in
            let watcher = try await Self.watcher(node)
            var will = Self.will("with properties")
            will.properties.messageExpiryInterval = 30
            will.properties.responseTopic = "will/reply"
            will.properties.correlationData = ByteBuffer(bytes: [1, 2, 3])
            will.properties.payloadFormatIndicator = 1
            let client = try await Self.client(node, "propertied", version: .v5, will: will)
            await client.close()
            let message = try await watcher.next(on: "will/t")
            #expect(message.text == "with properties")
            #expect((25...30).contains(message.properties.messageExpiryInterval ?? 0),
                "Message Expiry \(String(describing: message.properties.messageExpiryInterval))")
            #expect(message.properties.responseTopic == "will/reply")
            #expect(message.properties.correlationData == ByteBuffer(bytes: [1, 2, 3]))
            #expect(message.properties.payloadFormatIndicator == 1)
            try await watcher.disconnect()
        }
    }

    @Test("a normal DISCONNECT deletes the will", arguments: versions)
    func normalDisconnect(version: MQTTProtocolVersion) async throws {
        try await withNode { node in
            let watcher = try await Self.watcher(node)
            let client = try await Self.client(node, "polite", version: version, will: Self.will("should not"))
            _ = try await watcher.messages(untilSys: "sessions/count") { $0 == 2 }
            try await client.disconnect()
            // Once the session count drops, the detach (and any will) is done; a will would be listed here.
            let before = try await watcher.messages(untilSys: "sessions/count") { $0 == 1 }
            #expect(before.map(\.text) == [])
            try await watcher.disconnect()
        }
    }

    @Test("v5 DISCONNECT with reason 0x04 publishes the will")
    func disconnectWithWill() async throws {
        try await withNode { node in
            let watcher = try await Self.watcher(node)
            let client = try await Self.client(node, "asks", version: .v5, will: Self.will("as asked"))
            try await client.disconnect(.disconnectWithWillMessage)
            let message = try await watcher.next(on: "will/t").text
            #expect(message == "as asked")
            try await watcher.disconnect()
        }
    }

    @Test("v5 Will Delay: the will is published after the delay")
    func willDelay() async throws {
        try await withNode { node in
            let watcher = try await Self.watcher(node)
            let client = try await Self.client(
                node, "delayed", version: .v5, will: Self.will("late", delay: 2), sessionExpiry: 30)
            // Taken before the close: the node may see the connection end before `close()` returns here.
            let closed = ContinuousClock.now
            await client.close()
            let message = try await watcher.next(on: "will/t", within: .seconds(10))
            let elapsed = ContinuousClock.now - closed
            #expect(message.text == "late")
            #expect(elapsed >= .milliseconds(1800), "published \(elapsed) after the close, before its 2 s delay")
            #expect(elapsed < .seconds(5), "published only \(elapsed) after the close")
            try await watcher.disconnect()
        }
    }

    @Test("v5 Will Delay: a reconnect within the delay cancels the will")
    func willDelayCancelledByReconnect() async throws {
        try await withNode { node in
            let watcher = try await Self.watcher(node)
            let first = try await Self.client(
                node, "returns", version: .v5, will: Self.will("cancelled", delay: 4), sessionExpiry: 30)
            await first.close()
            let back = try await TestClient.connect(node, "returns", cleanStart: false) {
                $0.connectProperties.sessionExpiryInterval = 30
            }
            #expect(back.connAck.sessionPresent)
            // The sentinel: a will with a longer delay, started after the cancelled one would have been.
            let control = try await Self.client(
                node, "control", version: .v5, will: Self.will("control", delay: 5), sessionExpiry: 30)
            await control.close()
            let before = try await watcher.messages(before: "control", within: .seconds(10))
            #expect(before.filter { $0.topicString == "will/t" }.map(\.text) == [])
            try await back.disconnect()
            try await watcher.disconnect()
        }
    }

    @Test("v5 Will Delay longer than the Session Expiry: the will is published when the session ends")
    func willAtSessionExpiry() async throws {
        try await withNode { node in
            let watcher = try await Self.watcher(node)
            let client = try await Self.client(
                node, "expiring", version: .v5, will: Self.will("at expiry", delay: 60), sessionExpiry: 1)
            // Taken before the close: the node may see the connection end before `close()` returns here.
            let closed = ContinuousClock.now
            await client.close()
            let message = try await watcher.next(on: "will/t", within: .seconds(10))
            let elapsed = ContinuousClock.now - closed
            #expect(message.text == "at expiry")
            #expect(elapsed >= .milliseconds(900), "published \(elapsed) after the close, before the 1 s expiry")
            #expect(elapsed < .seconds(5), "published only \(elapsed) after the close")
            try await watcher.disconnect()
        }
    }

    @Test("the will is published on keep-alive timeout", arguments: versions)
    func keepAliveTimeout(version: MQTTProtocolVersion) async throws {
        try await withNode { node in
            let watcher = try await Self.watcher(node)
            let (silent, _) = try await RawConnection.connect(
                port: node.mqttPort, version: version, clientID: "silent", keepAlive: 1, will: Self.will("timed out"))
            let packets = try await silent.packetsUntilClosed()
            #expect(packets.map(\.disconnectReason) == (version == .v5 ? [.keepAliveTimeout] : []))
            let message = try await watcher.next(on: "will/t").text
            #expect(message == "timed out")
            try await watcher.disconnect()
        }
    }

    @Test("the will is published when the server closes the connection for a protocol error", arguments: versions)
    func protocolError(version: MQTTProtocolVersion) async throws {
        try await withNode { node in
            let watcher = try await Self.watcher(node)
            let (bad, _) = try await RawConnection.connect(
                port: node.mqttPort, version: version, clientID: "bad", will: Self.will("broke the rules"))
            // PUBLISH with QoS 3 (both QoS bits set) is malformed.
            try await bad.send(bytes: Wire.packet(0x36, Wire.string("x") + Wire.u16(1)))
            let packets = try await bad.packetsUntilClosed()
            #expect(packets.map(\.disconnectReason) == (version == .v5 ? [.malformedPacket] : []))
            let message = try await watcher.next(on: "will/t").text
            #expect(message == "broke the rules")
            try await watcher.disconnect()
        }
    }

    @Test("a will with RETAIN is stored as a retained message", arguments: versions)
    func retainedWill(version: MQTTProtocolVersion) async throws {
        try await withNode { node in
            let watcher = try await Self.watcher(node)
            let client = try await Self.client(node, "keeper", version: version, will: Self.will("kept", retain: true))
            await client.close()
            let live = try await watcher.next(on: "will/t")
            #expect(live.text == "kept")
            #expect(live.retain == false, "a live delivery clears RETAIN without Retain As Published")
            let late = try await TestClient.connect(node, "late", version: version)
            try await late.subscribe("will/t")
            let stored = try await late.next()
            #expect(stored.text == "kept")
            #expect(stored.retain == true)
            try await late.disconnect()
            try await watcher.disconnect()
        }
    }
}
