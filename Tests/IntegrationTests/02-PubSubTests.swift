import MQTTClient
import MQTTCore
import NIOCore
import Testing

/// Publish and subscribe through a running node: QoS in both directions, ordering, overlapping subscriptions,
/// `$SYS` and topic matching.
@Suite("02 PubSub", .timeLimit(.minutes(1)))
struct PubSubTests {
    static let versions: [MQTTProtocolVersion] = [.v3_1_1, .v5]

    @Test("delivered QoS is min(publish QoS, subscription QoS) for every pair", arguments: versions)
    func qosMatrix(version: MQTTProtocolVersion) async throws {
        try await withNode { node in
            let subscriber = try await TestClient.connect(node, "sub", version: version)
            let publisher = try await TestClient.connect(node, "pub", version: version)
            for subQoS in MQTTQoS.allCases {
                try await subscriber.subscribe("qos/sub\(subQoS.rawValue)", qos: subQoS)
            }
            for subQoS in MQTTQoS.allCases {
                for pubQoS in MQTTQoS.allCases {
                    let payload = "p\(pubQoS.rawValue)s\(subQoS.rawValue)"
                    let result = try await publisher.publish("qos/sub\(subQoS.rawValue)", payload, qos: pubQoS)
                    #expect(result.reasonCode == .success, "\(payload)")
                    let message = try await subscriber.next()
                    #expect(message.text == payload)
                    #expect(message.qos == min(pubQoS, subQoS), "\(payload)")
                    #expect(message.dup == false)
                    #expect((message.packetID == nil) == (message.qos == .atMostOnce))
                }
            }
            try await publisher.disconnect()
            try await subscriber.disconnect()
        }
    }

    @Test("500 QoS 1 messages from one publisher arrive complete and in order", arguments: versions)
    func ordering(version: MQTTProtocolVersion) async throws {
        try await withNode { node in
            let subscriber = try await TestClient.connect(node, "ordered-sub", version: version)
            try await subscriber.subscribe("order/t", qos: .atLeastOnce)
            let publisher = try await TestClient.connect(node, "ordered-pub", version: version)
            let count = 500
            // Pipelined: all 500 are written without waiting for PUBACKs (the client queues beyond the server's
            // Receive Maximum), so the broker really has many in flight at once.
            let client = publisher.client
            try await client.eventLoop.submit {
                let view = client.onLoop()
                for i in 0..<count {
                    view.write(.init(topic: "order/t", payload: ByteBuffer(string: "\(i)"), qos: .atLeastOnce))
                }
                view.flush()
            }.get()
            let received = try await subscriber.receive(count, within: .seconds(30))
            #expect(received.map(\.text) == (0..<count).map(String.init))
            #expect(received.allSatisfy { $0.qos == .atLeastOnce })
            try await publisher.disconnect()
            try await subscriber.disconnect()
        }
    }

    @Test("overlapping subscriptions: one copy at the highest QoS", arguments: versions)
    func overlapping(version: MQTTProtocolVersion) async throws {
        try await withNode { node in
            let subscriber = try await TestClient.connect(node, "overlap", version: version)
            let ids: [UInt32?] = version == .v5 ? [1, 2, 3] : [nil, nil, nil]
            try await subscriber.subscribe("ov/#", qos: .atMostOnce, identifier: ids[0])
            try await subscriber.subscribe("ov/+/x", qos: .exactlyOnce, identifier: ids[1])
            try await subscriber.subscribe("ov/a/x", qos: .atLeastOnce, identifier: ids[2])
            let publisher = try await TestClient.connect(node, "overlap-pub", version: version)
            try await publisher.publish("ov/a/x", "once", qos: .exactlyOnce)
            try await publisher.publish("ov/a/x", "END", qos: .exactlyOnce)
            let before = try await subscriber.messages(before: "END")
            #expect(before.map(\.text) == ["once"], "one copy, not one per subscription")
            let message = try #require(before.first)
            #expect(message.qos == .exactlyOnce)
            if version == .v5 {
                #expect(message.properties.subscriptionIdentifiers.sorted() == [1, 2, 3])
            }
            // Only the subscriptions that match contribute their identifier.
            try await publisher.publish("ov/b", "partial", qos: .atLeastOnce)
            let partial = try await subscriber.next()
            #expect(partial.text == "partial")
            #expect(partial.qos == .atMostOnce)
            if version == .v5 { #expect(partial.properties.subscriptionIdentifiers == [1]) }
            try await publisher.disconnect()
            try await subscriber.disconnect()
        }
    }

    @Test("UNSUBSCRIBE stops delivery; v5 UNSUBACK says which filters existed", arguments: versions)
    func unsubscribe(version: MQTTProtocolVersion) async throws {
        try await withNode { node in
            let client = try await TestClient.connect(node, "leaver", version: version)
            try await client.subscribe("un/a", qos: .atLeastOnce)
            try await client.subscribe("un/b", qos: .atLeastOnce)
            let ack = try await client.client.unsubscribe(["un/a", "un/never"])
            #expect(ack.reasonCodes == (version == .v5 ? [.success, .noSubscriptionExisted] : []))
            let publisher = try await TestClient.connect(node, "un-pub", version: version)
            try await publisher.publish("un/a", "after unsubscribe", qos: .atLeastOnce)
            try await publisher.publish("un/b", "END", qos: .atLeastOnce)
            let before = try await client.messages(before: "END").map(\.text)
            #expect(before == [])
            try await publisher.disconnect()
            try await client.disconnect()
        }
    }

    @Test("a 512 KiB payload arrives intact", arguments: versions)
    func largePayload(version: MQTTProtocolVersion) async throws {
        try await withNode { node in
            let subscriber = try await TestClient.connect(node, "big-sub", version: version)
            try await subscriber.subscribe("big/t", qos: .exactlyOnce)
            let publisher = try await TestClient.connect(node, "big-pub", version: version)
            let bytes = (0..<(512 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
            _ = try await publisher.client.publish(
                to: "big/t", payload: ByteBuffer(bytes: bytes), qos: .exactlyOnce)
            let message = try await subscriber.next()
            #expect(message.payload.readableBytes == bytes.count)
            #expect(Array(message.payload.readableBytesView) == bytes, "payload bytes unchanged")
            try await publisher.disconnect()
            try await subscriber.disconnect()
        }
    }

    @Test("v5 PUBACK/PUBREC say 0x10 when no subscriber matched, 0x00 once one does")
    func noMatchingSubscribers() async throws {
        try await withNode { node in
            let (raw, _) = try await RawConnection.connect(port: node.mqttPort, clientID: "lonely")
            let id1 = PacketID(rawValue: 1)!
            let id2 = PacketID(rawValue: 2)!
            try await raw.send(.publish(.init(topic: "nobody/here", payload: ByteBuffer(string: "x"), qos: .atLeastOnce, packetID: id1)))
            let packet = try await raw.expectPacket()
            #expect(packet == .pubAck(.init(packetID: id1, reasonCode: .noMatchingSubscribers)))
            try await raw.send(.publish(.init(topic: "nobody/here", payload: ByteBuffer(string: "x"), qos: .exactlyOnce, packetID: id2)))
            let packet2 = try await raw.expectPacket()
            #expect(packet2 == .pubRec(.init(packetID: id2, reasonCode: .noMatchingSubscribers)))
            try await raw.send(.pubRel(.init(packetID: id2)))
            let packet3 = try await raw.expectPacket()
            #expect(packet3 == .pubComp(.init(packetID: id2)))

            let subscriber = try await TestClient.connect(node, "listener")
            try await subscriber.subscribe("nobody/+")
            let id3 = PacketID(rawValue: 3)!
            try await raw.send(.publish(.init(topic: "nobody/here", payload: ByteBuffer(string: "y"), qos: .atLeastOnce, packetID: id3)))
            let packet4 = try await raw.expectPacket()
            #expect(packet4 == .pubAck(.init(packetID: id3, reasonCode: .success)))
            let message = try await subscriber.next().text
            #expect(message == "y")
            await raw.close()
            try await subscriber.disconnect()
        }
    }

    @Test("$SYS topics are not matched by # or +/…, but are by $SYS/…")
    func sysNotMatchedByWildcards() async throws {
        try await withNode(["--name", "sysnode"]) { node in
            let sys = try await TestClient.connect(node, "sys-watcher")
            try await sys.subscribe("$SYS/brokers/+/uptime", qos: .atMostOnce)
            // The first one may be the retained copy; after it, retained $SYS messages exist for sure.
            let first = try await sys.next(within: .seconds(10))
            #expect(first.topicString == "$SYS/brokers/sysnode/uptime")
            #expect(UInt64(first.text) != nil, "uptime payload \(first.text)")

            let wild = try await TestClient.connect(node, "wildcards")
            for filter in ["#", "+/brokers/#", "+/+/+/uptime", "+/#"] {
                try await wild.subscribe(filter, qos: .atMostOnce)
            }
            // Two more live publications: the first of them has been routed to every session before the second
            // arrives (the $SYS publisher awaits each round), so a wrong delivery to `wild` would precede the marker.
            _ = try await sys.next(within: .seconds(10))
            _ = try await sys.next(within: .seconds(10))
            let publisher = try await TestClient.connect(node, "marker")
            try await publisher.publish("plain/marker", "END", qos: .atLeastOnce)
            let before = try await wild.messages(before: "END")
            #expect(before.filter { $0.topicString.hasPrefix("$") }.map(\.topicString) == [])
            try await publisher.disconnect()
            try await wild.disconnect()
            try await sys.disconnect()
        }
    }

    @Test("$SYS/brokers/<name>/… carries the node's counters")
    func sysTopics() async throws {
        try await withNode(["--name", "counting"]) { node in
            let sys = try await TestClient.connect(node, "sys-reader")
            try await sys.subscribe("$SYS/brokers/counting/clients/connected", qos: .atMostOnce)
            try await sys.subscribe("$SYS/brokers/counting/version", qos: .atMostOnce)
            // The retained values may predate this client; wait for a publication that counts it.
            var connected = 0
            var version = ""
            let deadline = ContinuousClock.now + .seconds(10)
            while connected < 1 || version.isEmpty {
                let message = try await sys.next(within: deadline - ContinuousClock.now)
                switch message.topicString {
                case "$SYS/brokers/counting/clients/connected": connected = Int(message.text) ?? -1
                case "$SYS/brokers/counting/version": version = message.text
                default: Issue.record("unexpected \(message.topicString)")
                }
                #expect(connected >= 0, "clients/connected payload \(message.text)")
            }
            try await sys.disconnect()
        }
    }

    /// (filter, topic, matches): the examples of MQTT 5 section 4.7 and the edge cases around them.
    static let matchingTable: [(String, String, Bool)] = [
        ("sport/tennis/player1/#", "sport/tennis/player1", true),
        ("sport/tennis/player1/#", "sport/tennis/player1/ranking", true),
        ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true),
        ("sport/tennis/player1/#", "sport/tennis/player2", false),
        ("sport/#", "sport", true),
        ("sport/#", "sport/", true),
        ("sport/#", "sports", false),
        ("#", "sport", true),
        ("#", "/finance", true),
        ("#", "$test/x", false),
        ("sport/tennis/+", "sport/tennis/player1", true),
        ("sport/tennis/+", "sport/tennis/player1/ranking", false),
        ("sport/tennis/+", "sport/tennis", false),
        ("sport/+", "sport", false),
        ("sport/+", "sport/", true),
        ("+", "sport", true),
        ("+", "sport/", false),
        ("+", "/finance", false),
        ("+", "$test", false),
        ("+/+", "/finance", true),
        ("/+", "/finance", true),
        ("+/tennis/#", "sport/tennis", true),
        ("+/tennis/#", "sport/tennis/player1/ranking", true),
        ("+/tennis/#", "sport/golf", false),
        ("a/+/c", "a/b/c", true),
        ("a/+/c", "a//c", true),
        ("a/+/c", "a/b/c/d", false),
        ("a/+/c", "a/c", false),
        ("a/b", "a/b", true),
        ("a/b", "a/b/", false),
        ("a/b", "A/b", false),
        ("+/x", "$test/x", false),
        ("$test/#", "$test/x", true),
        ("$test/+", "$test/x", true),
        ("+/+/+", "a/b/c", true),
        ("+/+/+", "a/b", false),
        ("a/#", "a", true),
        ("a/#", "a/b/c/d/e", true),
        ("ünï/+", "ünï/cödé", true),
    ]

    @Test("topic matching, one subscriber per filter, checked through a real node")
    func matchingTableThroughBroker() async throws {
        try await withNode { node in
            var filters: [String] = []
            for (filter, _, _) in Self.matchingTable where !filters.contains(filter) { filters.append(filter) }
            var topics: [String] = []
            for (_, topic, _) in Self.matchingTable where !topics.contains(topic) { topics.append(topic) }
            var subscribers: [String: TestClient] = [:]
            for (index, filter) in filters.enumerated() {
                let client = try await TestClient.connect(node, "match-\(index)")
                try await client.subscribe(filter, qos: .atLeastOnce)
                try await client.subscribe("zz-marker", qos: .atLeastOnce)
                subscribers[filter] = client
            }
            let publisher = try await TestClient.connect(node, "match-pub")
            // QoS 1, one at a time: each PUBACK means every matching session has the message before the next.
            for topic in topics { try await publisher.publish(topic, topic, qos: .atLeastOnce) }
            try await publisher.publish("zz-marker", "END", qos: .atLeastOnce)
            var received: [String: [String]] = [:]
            for (filter, client) in subscribers {
                received[filter] = try await client.messages(before: "END").map(\.topicString)
            }
            for (filter, topic, expected) in Self.matchingTable {
                let got = received[filter, default: []].filter { $0 == topic }.count
                #expect(got == (expected ? 1 : 0), "filter \(filter) topic \(topic): delivered \(got) times")
            }
            try await publisher.disconnect()
            for client in subscribers.values { try await client.disconnect() }
        }
    }
}
