import MQTTClient
import MQTTCore
import NIOCore
import Testing

/// MQTT 5 features end to end: topic aliases, No Local, message properties, message expiry, Maximum Packet Size,
/// response information and shared subscriptions.
@Suite("06 MQTT 5", .timeLimit(.minutes(1)))
struct MQTT5Tests {
    static func publish(
        _ topic: TopicName?, _ payload: String, qos: MQTTQoS = .atMostOnce, id: UInt16? = nil, alias: UInt16? = nil
    ) -> MQTTPacket {
        var properties = MQTTProperties()
        properties.topicAlias = alias
        return .publish(.init(
            topic: topic, payload: ByteBuffer(string: payload), qos: qos, packetID: id.flatMap { PacketID(rawValue: $0) },
            properties: properties))
    }

    @Test("client-to-server topic aliases: set with a topic, then used with an empty topic")
    func inboundTopicAlias() async throws {
        try await withNode { node in
            let subscriber = try await TestClient.connect(node, "alias-sub")
            try await subscriber.subscribe("alias/in")
            let (raw, ack) = try await RawConnection.connect(port: node.mqttPort, clientID: "alias-pub")
            let maximum = try #require(ack.properties.topicAliasMaximum)
            try await raw.send(Self.publish("alias/in", "first", alias: 1))
            try await raw.send(Self.publish(nil, "second", alias: 1))
            try await raw.send(Self.publish(nil, "third", qos: .atLeastOnce, id: 1, alias: 1))
            let packet = try await raw.expectPacket()
            #expect(packet == .pubAck(.init(packetID: PacketID(rawValue: 1)!)))
            let got = try await subscriber.receive(3)
            #expect(got.map(\.text) == ["first", "second", "third"])
            #expect(got.allSatisfy { $0.topic == "alias/in" })
            #expect(got.allSatisfy { $0.properties.topicAlias == nil }, "aliases are per connection, not forwarded")

            // An alias above the advertised maximum: DISCONNECT 0x94.
            try await raw.send(Self.publish("alias/in", "too big", alias: maximum + 1))
            let closing = try await raw.packetsUntilClosed().map(\.disconnectReason)
            #expect(closing == [.topicAliasInvalid])

            // An alias that was never set: protocol error.
            let (other, _) = try await RawConnection.connect(port: node.mqttPort, clientID: "alias-unknown")
            try await other.send(Self.publish(nil, "who", alias: 2))
            let closing2 = try await other.packetsUntilClosed().map(\.disconnectReason)
            #expect(closing2 == [.protocolError])
            try await subscriber.disconnect()
        }
    }

    @Test("client-to-server topic aliases can be remapped to another topic")
    func inboundAliasRemap() async throws {
        try await withNode { node in
            let subscriber = try await TestClient.connect(node, "remap-sub")
            try await subscriber.subscribe("remap/#")
            let (raw, _) = try await RawConnection.connect(port: node.mqttPort, clientID: "remap-pub")
            try await raw.send(Self.publish("remap/a", "1", alias: 1))
            try await raw.send(Self.publish(nil, "2", alias: 1))
            try await raw.send(Self.publish("remap/b", "3", alias: 1))
            try await raw.send(Self.publish(nil, "4", qos: .atLeastOnce, id: 1, alias: 1))
            _ = try await raw.expectPacket()
            let got = try await subscriber.receive(4)
            #expect(got.map { "\($0.topicString)=\($0.text)" } == ["remap/a=1", "remap/a=2", "remap/b=3", "remap/b=4"])
            await raw.close()
            try await subscriber.disconnect()
        }
    }

    @Test("server-to-client topic aliases: once the client's maximum is used up, topics go in full")
    func outboundAliasExhaustion() async throws {
        try await withNode { node in
            var properties = MQTTProperties()
            properties.topicAliasMaximum = 2
            let (raw, _) = try await RawConnection.connect(port: node.mqttPort, clientID: "two-aliases", properties: properties)
            try await raw.send(.subscribe(.init(
                packetID: PacketID(rawValue: 1)!, subscriptions: [.init(filter: "few/#", options: .init(qos: .atMostOnce))])))
            _ = try await raw.expectPacket()
            let publisher = try await TestClient.connect(node, "few-pub")
            for topic in ["few/a", "few/b", "few/c", "few/c", "few/a"] {
                try await publisher.publish(topic, topic, qos: .atLeastOnce)
            }
            var seen: [MQTTPacket.Publish] = []
            for _ in 0..<5 { seen.append(try #require(try await raw.expectPacket().publish)) }
            #expect(seen.map(\.text) == ["few/a", "few/b", "few/c", "few/c", "few/a"])
            #expect(seen.allSatisfy { ($0.properties.topicAlias ?? 1) <= 2 }, "never above the client's maximum")
            #expect(seen[2].topic == "few/c" && seen[3].topic == "few/c", "no alias left for a third topic")
            #expect(seen[4].topic == nil && seen[4].properties.topicAlias == seen[0].properties.topicAlias)
            await raw.close()
            try await publisher.disconnect()
        }
    }

    @Test("server-to-client topic aliases, only when the client's Topic Alias Maximum allows them")
    func outboundTopicAlias() async throws {
        try await withNode { node in
            var properties = MQTTProperties()
            properties.topicAliasMaximum = 10
            let (aliased, _) = try await RawConnection.connect(port: node.mqttPort, clientID: "alias-out", properties: properties)
            let (plain, _) = try await RawConnection.connect(port: node.mqttPort, clientID: "alias-none")
            for raw in [aliased, plain] {
                try await raw.send(.subscribe(.init(
                    packetID: PacketID(rawValue: 1)!, subscriptions: [.init(filter: "alias/out/#", options: .init(qos: .atMostOnce))])))
                let packet = try await raw.expectPacket()
                #expect(packet == .subAck(.init(packetID: PacketID(rawValue: 1)!, reasonCodes: [.grantedQoS0])))
            }
            let publisher = try await TestClient.connect(node, "alias-src")
            for payload in ["1", "2", "3"] { try await publisher.publish("alias/out/a", payload, qos: .atLeastOnce) }
            try await publisher.publish("alias/out/b", "4", qos: .atLeastOnce)

            var seen: [MQTTPacket.Publish] = []
            for _ in 0..<4 { seen.append(try #require(try await aliased.expectPacket().publish)) }
            #expect(seen.map(\.text) == ["1", "2", "3", "4"])
            let alias = try #require(seen[0].properties.topicAlias)
            #expect((1...10).contains(alias))
            #expect(seen[0].topic == "alias/out/a", "the first use carries the topic to set the alias")
            #expect(seen[1].topic == nil && seen[1].properties.topicAlias == alias, "then the alias alone")
            #expect(seen[2].topic == nil && seen[2].properties.topicAlias == alias)
            #expect(seen[3].topic == "alias/out/b" && seen[3].properties.topicAlias != alias, "another topic, another alias")

            for _ in 0..<4 {
                let message = try #require(try await plain.expectPacket().publish)
                #expect(message.topic != nil)
                #expect(message.properties.topicAlias == nil, "no aliases for a client that allows none")
            }
            await aliased.close()
            await plain.close()
            try await publisher.disconnect()
        }
    }

    @Test("No Local: a client does not get its own messages on a No Local subscription")
    func noLocal() async throws {
        try await withNode { node in
            let quiet = try await TestClient.connect(node, "quiet")
            try await quiet.subscribe("nl/t", noLocal: true)
            let echo = try await TestClient.connect(node, "echo")
            try await echo.subscribe("nl/t", noLocal: false)
            try await quiet.publish("nl/t", "from quiet", qos: .atLeastOnce)
            try await echo.publish("nl/t", "from echo", qos: .atLeastOnce)
            try await echo.publish("nl/t", "END", qos: .atLeastOnce)
            let before = try await quiet.messages(before: "END").map(\.text)
            #expect(before == ["from echo"])
            let before2 = try await echo.messages(before: "END").map(\.text)
            #expect(before2 == ["from quiet", "from echo"])
            try await quiet.disconnect()
            try await echo.disconnect()
        }
    }

    @Test("user properties, response topic, correlation data, content type and payload format pass unchanged")
    func propertiesPassThrough() async throws {
        try await withNode { node in
            let subscriber = try await TestClient.connect(node, "props-sub")
            try await subscriber.subscribe("props/t", qos: .exactlyOnce)
            let publisher = try await TestClient.connect(node, "props-pub")
            var properties = MQTTProperties()
            properties.userProperties = [.init("b", "2"), .init("a", "1"), .init("b", "2"), .init("ключ", "значение")]
            properties.responseTopic = "props/reply"
            properties.correlationData = ByteBuffer(bytes: [0x00, 0xFF, 0x10, 0x80])
            properties.contentType = "application/json; charset=utf-8"
            properties.payloadFormatIndicator = 1
            for qos in MQTTQoS.allCases {
                try await publisher.publish("props/t", "{\"ok\":true}", qos: qos, properties: properties)
                let message = try await subscriber.next()
                #expect(message.text == "{\"ok\":true}")
                #expect(message.properties.userProperties == properties.userProperties, "order and duplicates kept")
                #expect(message.properties.responseTopic == "props/reply")
                #expect(message.properties.correlationData == properties.correlationData)
                #expect(message.properties.contentType == properties.contentType)
                #expect(message.properties.payloadFormatIndicator == 1)
                #expect(message.properties.messageExpiryInterval == nil)
            }
            try await publisher.disconnect()
            try await subscriber.disconnect()
        }
    }

    @Test("Message Expiry: a queued message expires while its subscriber is offline; others carry the time left")
    func messageExpiry() async throws {
        try await withNode { node in
            let subscriber = try await TestClient.connect(node, "exp-offline", cleanStart: false) {
                $0.connectProperties.sessionExpiryInterval = 60
            }
            try await subscriber.subscribe("mexp/t", qos: .atLeastOnce)
            try await subscriber.disconnect()
            let publisher = try await TestClient.connect(node, "exp-pub")
            var short = MQTTProperties()
            short.messageExpiryInterval = 1
            var long = MQTTProperties()
            long.messageExpiryInterval = 30
            try await publisher.publish("mexp/t", "dies", qos: .atLeastOnce, properties: short)
            try await publisher.publish("mexp/t", "lives", qos: .atLeastOnce, properties: long)
            try await publisher.publish("mexp/t", "forever", qos: .atLeastOnce)
            // Time has to pass for "dies" to expire: this sleep is the offline period under test.
            try await Task.sleep(for: .milliseconds(2100))
            let back = try await TestClient.connect(node, "exp-offline", cleanStart: false) {
                $0.connectProperties.sessionExpiryInterval = 60
            }
            try await publisher.publish("mexp/t", "END", qos: .atLeastOnce)
            let got = try await back.messages(before: "END")
            #expect(got.map(\.text) == ["lives", "forever"])
            let left = try #require(got.first?.properties.messageExpiryInterval)
            #expect(left <= 28, "Message Expiry Interval \(left): 2 s of 30 have passed")
            #expect(left >= 20)
            #expect(got.last?.properties.messageExpiryInterval == nil)
            try await publisher.disconnect()
            try await back.disconnect()
        }
    }

    @Test("client Maximum Packet Size: a larger message is skipped, later small ones arrive")
    func clientMaximumPacketSize() async throws {
        try await withNode { node in
            let subscriber = try await TestClient.connect(node, "small") { config in
                config.connectProperties.maximumPacketSize = 100
            }
            try await subscriber.subscribe("mps/t", qos: .atLeastOnce)
            let publisher = try await TestClient.connect(node, "big-pub")
            let big = String(repeating: "x", count: 200)
            for i in 0..<3 {
                try await publisher.publish("mps/t", big, qos: .atLeastOnce)
                try await publisher.publish("mps/t", "small \(i)", qos: .atLeastOnce)
            }
            // QoS 1 messages that were skipped must not hold the in-flight window either: many more follow.
            for i in 3..<40 { try await publisher.publish("mps/t", "small \(i)", qos: .atLeastOnce) }
            let got = try await subscriber.receive(40)
            #expect(got.map(\.text) == (0..<40).map { "small \($0)" })
            try await publisher.disconnect()
            try await subscriber.disconnect()
        }
    }

    @Test("a message skipped for the client's Maximum Packet Size does not use up a topic alias")
    func aliasNotSpentOnSkippedMessage() async throws {
        try await withNode { node in
            var properties = MQTTProperties()
            properties.topicAliasMaximum = 10
            properties.maximumPacketSize = 100
            let (raw, _) = try await RawConnection.connect(port: node.mqttPort, clientID: "alias-small", properties: properties)
            try await raw.send(.subscribe(.init(
                packetID: PacketID(rawValue: 1)!, subscriptions: [.init(filter: "skip/t", options: .init(qos: .atMostOnce))])))
            _ = try await raw.expectPacket()
            let publisher = try await TestClient.connect(node, "skip-pub")
            try await publisher.publish("skip/t", String(repeating: "x", count: 300), qos: .atLeastOnce)
            try await publisher.publish("skip/t", "small", qos: .atLeastOnce)
            let first = try #require(try await raw.expectPacket().publish)
            #expect(first.text == "small")
            // The client has never been told which topic an alias stands for, so the first PUBLISH it receives on a
            // topic must carry the topic name [MQTT-3.3.2-12].
            #expect(first.topic == "skip/t", "got topic \(String(describing: first.topic)) with alias \(String(describing: first.properties.topicAlias))")
            await raw.close()
            try await publisher.disconnect()
        }
    }

    @Test("unsubscribing from a shared subscription takes the member out of the group")
    func unsubscribeShared() async throws {
        try await withNode { node in
            let leaving = try await TestClient.connect(node, "leaving")
            let staying = try await TestClient.connect(node, "staying")
            for member in [leaving, staying] {
                try await member.subscribe("$share/g/us/t", qos: .atLeastOnce)
                try await member.subscribe("us/marker", qos: .atLeastOnce)
            }
            let ack = try await leaving.client.unsubscribe(["$share/g/us/t"])
            #expect(ack.reasonCodes == [.success])
            let publisher = try await TestClient.connect(node, "us-pub")
            for i in 0..<6 { try await publisher.publish("us/t", "\(i)", qos: .atLeastOnce) }
            try await publisher.publish("us/marker", "END", qos: .atLeastOnce)
            let left = try await leaving.messages(before: "END").map(\.text)
            let stayed = try await staying.messages(before: "END").map(\.text)
            #expect(left == [])
            #expect(stayed == ["0", "1", "2", "3", "4", "5"])
            for client in [leaving, staying, publisher] { try await client.disconnect() }
        }
    }

    @Test("subscribing again replaces the subscription identifier")
    func resubscribeReplacesIdentifier() async throws {
        try await withNode { node in
            let client = try await TestClient.connect(node, "resub")
            try await client.subscribe("resub/t", qos: .atLeastOnce, identifier: 1)
            try await client.subscribe("resub/t", qos: .atLeastOnce, identifier: 2)
            try await client.publish("resub/t", "one", qos: .atLeastOnce)
            let first = try await client.next()
            #expect(first.properties.subscriptionIdentifiers == [2])
            try await client.subscribe("resub/t", qos: .atLeastOnce)
            try await client.publish("resub/t", "two", qos: .atLeastOnce)
            let second = try await client.next()
            #expect(second.properties.subscriptionIdentifiers == [], "a SUBSCRIBE without identifier removes it")
            try await client.disconnect()
        }
    }

    @Test("server Maximum Packet Size: an oversized PUBLISH gets DISCONNECT 0x95; the node serves others")
    func serverMaximumPacketSize() async throws {
        try await withNode(["--max-packet-size", "256"]) { node in
            let (raw, ack) = try await RawConnection.connect(port: node.mqttPort, clientID: "oversize")
            #expect(ack.properties.maximumPacketSize == 256)
            try await raw.send(Self.publish("mps/big", String(repeating: "y", count: 1000)))
            let closing = try await raw.packetsUntilClosed().map(\.disconnectReason)
            #expect(closing == [.packetTooLarge])

            let subscriber = try await TestClient.connect(node, "fine-sub")
            try await subscriber.subscribe("mps/ok")
            let publisher = try await TestClient.connect(node, "fine-pub")
            try await publisher.publish("mps/ok", String(repeating: "z", count: 200), qos: .atLeastOnce)
            let message = try await subscriber.next().payload.readableBytes
            #expect(message == 200)
            try await publisher.disconnect()
            try await subscriber.disconnect()
        }
    }

    @Test("Request Response Information: CONNACK carries Response Information only when asked")
    func responseInformation() async throws {
        try await withNode { node in
            var asks = MQTTProperties()
            asks.requestResponseInformation = 1
            let (a, askedAck) = try await RawConnection.connect(port: node.mqttPort, clientID: "asker", properties: asks)
            let info = try #require(askedAck.properties.responseInformation)
            #expect(!info.isEmpty)
            let (b, plainAck) = try await RawConnection.connect(port: node.mqttPort, clientID: "quiet")
            #expect(plainAck.properties.responseInformation == nil)
            await a.close()
            await b.close()
        }
    }

    @Test(
        "shared subscriptions share messages between members; a plain subscriber gets them all",
        arguments: ["$share/g/shared/t", "$queue/shared/t"], [MQTTProtocolVersion.v3_1_1, .v5])
    func sharedSubscriptions(filter: String, version: MQTTProtocolVersion) async throws {
        try await withNode { node in
            let members = [
                try await TestClient.connect(node, "member-1", version: version),
                try await TestClient.connect(node, "member-2", version: version),
            ]
            for member in members {
                let ack = try await member.subscribe(filter, qos: .atLeastOnce)
                #expect(ack.reasonCodes == [.grantedQoS1])
                try await member.subscribe("shared/marker", qos: .atLeastOnce)
            }
            let everything = try await TestClient.connect(node, "plain", version: version)
            try await everything.subscribe("shared/t", qos: .atLeastOnce)
            let publisher = try await TestClient.connect(node, "shared-pub", version: version)
            let count = 100
            for i in 0..<count { try await publisher.publish("shared/t", "\(i)", qos: .atLeastOnce) }
            try await publisher.publish("shared/marker", "END", qos: .atLeastOnce)
            let got = [try await members[0].messages(before: "END"), try await members[1].messages(before: "END")]
            #expect(got[0].count + got[1].count == count, "each message to exactly one member")
            #expect(Set(got[0].map(\.text)).isDisjoint(with: got[1].map(\.text)))
            #expect(Set((got[0] + got[1]).map(\.text)) == Set((0..<count).map(String.init)))
            for share in got { #expect((count / 4...count * 3 / 4).contains(share.count), "\(share.count) of \(count)") }
            try await everything.subscribe("shared/marker", qos: .atLeastOnce)
            try await publisher.publish("shared/marker", "END", qos: .atLeastOnce)
            let before = try await everything.messages(before: "END").count
            #expect(before == count)
            for client in members + [everything, publisher] { try await client.disconnect() }
        }
    }
}
