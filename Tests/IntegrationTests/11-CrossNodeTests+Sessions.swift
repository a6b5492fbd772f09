import MQTTClient
import MQTTCore
import NIOCore
import Testing

/// Sessions that move between nodes of one cluster: a client that reconnects with Clean Start 0 on another node
/// takes its session over. The old connection is told 0x8E and closed, the new one gets Session Present and the
/// unacknowledged messages again (DUP, same packet identifiers, same order), and the session's subscriptions follow
/// it to the new node. (Part of the serialized "11 cross-node broker" suite, so that only one cluster runs at a time.)
extension CrossNodeTests {
    static func persistentProperties(expiry: UInt32 = 300) -> MQTTProperties {
        var properties = MQTTProperties()
        properties.sessionExpiryInterval = expiry
        return properties
    }

    /// Sends SUBSCRIBE for `filter` and checks the SUBACK.
    static func subscribe(_ connection: RawConnection, _ filter: TopicFilter, qos: MQTTQoS) async throws {
        let id = PacketID(rawValue: 1)!
        try await connection.send(.subscribe(.init(packetID: id, subscriptions: [.init(filter: filter, options: .init(qos: qos))])))
        let packet = try await connection.expectPacket()
        #expect(packet == .subAck(.init(packetID: id, reasonCodes: [MQTTReasonCode(rawValue: qos.rawValue)])))
    }

    /// The next `count` packets, each of which must be a PUBLISH.
    static func publishes(_ connection: RawConnection, _ count: Int) async throws -> [MQTTPacket.Publish] {
        var messages: [MQTTPacket.Publish] = []
        for _ in 0..<count {
            let packet = try await connection.expectPacket()
            messages.append(try #require(packet.publish, "expected PUBLISH \(messages.count + 1) of \(count), got \(packet)"))
        }
        return messages
    }

    @Test("takeover on another node: the old connection gets DISCONNECT 0x8E, the new one the unacknowledged messages with DUP")
    func takeoverAcrossNodes() async throws {
        try await withCluster(count: 3) { cluster in
            let (old, oldAck) = try await RawConnection.connect(
                port: cluster[0].mqttPort, clientID: "tk", cleanStart: false, properties: Self.persistentProperties())
            #expect(oldAck.reasonCode == .success)
            #expect(oldAck.sessionPresent == false)
            try await Self.subscribe(old, "tk/t", qos: .atLeastOnce)

            let publisher = try await TestClient.connect(cluster[1], "tk-pub")
            let payloads = ["one", "two", "three"]
            for payload in payloads { try await publisher.publish("tk/t", payload, qos: .atLeastOnce) }
            let originals = try await Self.publishes(old, payloads.count)  // no PUBACK for any of them
            #expect(originals.map(\.text) == payloads)
            #expect(originals.allSatisfy { !$0.dup && $0.qos == .atLeastOnce })

            let (new, newAck) = try await RawConnection.connect(
                port: cluster[2].mqttPort, clientID: "tk", cleanStart: false, properties: Self.persistentProperties())
            #expect(newAck.reasonCode == .success)
            #expect(newAck.sessionPresent == true, "the session from n1 is present on n3")
            let closing = try await old.packetsUntilClosed()
            #expect(closing.map(\.disconnectReason) == [.sessionTakenOver], "old connection got \(closing)")

            let resent = try await Self.publishes(new, payloads.count)
            #expect(resent.map(\.text) == payloads)
            #expect(resent.allSatisfy { $0.dup && $0.qos == .atLeastOnce && $0.topicString == "tk/t" })
            #expect(resent.map(\.packetID) == originals.map(\.packetID), "resent with the original packet identifiers")
            for message in resent {
                if let id = message.packetID { try await new.send(.pubAck(.init(packetID: id))) }
            }

            // The subscription came along: a new message published through n2 reaches the connection on n3.
            try await publisher.publish("tk/t", "after", qos: .atLeastOnce)
            let after = try #require(try await new.expectPacket().publish)
            #expect(after.text == "after")
            #expect(after.dup == false)
            if let id = after.packetID { try await new.send(.pubAck(.init(packetID: id))) }
            try await new.send(.disconnect(.init(reasonCode: .normalDisconnection)))
            await new.close()
            try await publisher.disconnect()
        }
    }

    @Test("takeover on another node with nothing pending: 0x8E to the old connection, Session Present, the subscription follows")
    func takeoverAcrossNodesKeepsSubscription() async throws {
        try await withCluster(count: 3) { cluster in
            let (old, _) = try await RawConnection.connect(
                port: cluster[0].mqttPort, clientID: "tk2", cleanStart: false, properties: Self.persistentProperties())
            try await Self.subscribe(old, "tk2/t", qos: .atLeastOnce)

            let new = try await TestClient.connect(cluster[2], "tk2", cleanStart: false) {
                $0.connectProperties.sessionExpiryInterval = 300
            }
            #expect(new.connAck.sessionPresent == true, "the session from n1 is present on n3")
            let closing = try await old.packetsUntilClosed()
            #expect(closing.map(\.disconnectReason) == [.sessionTakenOver], "old connection got \(closing)")

            // Published on the new connection's own node, then on the node the session came from.
            for (index, payload) in [(2, "via n3"), (0, "via n1")] {
                let publisher = try await TestClient.connect(cluster[index], "tk2-pub-\(index + 1)")
                try await publisher.publish("tk2/t", payload, qos: .atLeastOnce)
                let got = try await new.next(on: "tk2/t")
                #expect(got.text == payload)
                try await publisher.disconnect()
            }
            try await new.disconnect()
        }
    }
}
