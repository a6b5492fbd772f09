import MQTTClient
import MQTTCore
import NIOCore
import Testing

/// Authorisation with an ACL file: refused subscriptions and publications, per-user and per-client rules.
@Suite("07 Auth", .timeLimit(.minutes(1)))
struct AuthTests {
    static let versions: [MQTTProtocolVersion] = [.v3_1_1, .v5]

    static let acl = """
        # Starling e2e ACL
        allow user:alice  subscribe admin/#
        deny  all         subscribe admin/#
        deny  all         subscribe secret/#
        deny  all         publish   nopub/#
        allow all         all       users/%u/#
        deny  all         all       users/#
        allow all         all       clients/%c/#
        deny  all         all       clients/#
        """

    /// Starts a node with the ACL above and a password file holding alice and bob.
    static func withACLNode<T>(_ body: (NodeProcess) async throws -> T) async throws -> T {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let passwords = try makePasswordFile(in: directory, users: [("alice", "alice-pw"), ("bob", "bob-pw")])
        let acl = try directory.file("acl", Self.acl)
        return try await withNode(["--password-file", passwords, "--acl-file", acl], body)
    }

    static func login(
        _ node: NodeProcess, _ id: String, user: String?, version: MQTTProtocolVersion
    ) async throws -> TestClient {
        try await TestClient.connect(node, id, version: version) { config in
            config.username = user
            config.password = user.map { ByteBuffer(string: "\($0)-pw") }
        }
    }

    /// The code a refused subscription gets: 0x87 in v5, 0x80 (failure) in 3.1.1.
    static func refused(_ version: MQTTProtocolVersion) -> MQTTReasonCode {
        version == .v5 ? .notAuthorized : .unspecifiedError
    }

    @Test("a denied subscription gets a failure code in SUBACK and receives nothing", arguments: versions)
    func deniedSubscribe(version: MQTTProtocolVersion) async throws {
        try await Self.withACLNode { node in
            let client = try await Self.login(node, "snoop", user: "bob", version: version)
            let ack = try await client.client.subscribe([
                .init(filter: "public/t", options: .init(qos: .atLeastOnce)),
                .init(filter: "secret/t", options: .init(qos: .atLeastOnce)),
                .init(filter: "+/t", options: .init(qos: .atMostOnce)),
                .init(filter: "admin/x", options: .init(qos: .exactlyOnce)),
            ])
            let denied = Self.refused(version)
            #expect(ack.reasonCodes == [.grantedQoS1, denied, denied, denied], "+/t overlaps secret/#, so it is denied")
            let publisher = try await Self.login(node, "teller", user: "alice", version: version)
            try await publisher.publish("secret/t", "classified", qos: .atLeastOnce)
            try await publisher.publish("admin/x", "for admins", qos: .atLeastOnce)
            try await publisher.publish("public/t", "END", qos: .atLeastOnce)
            let before = try await client.messages(before: "END").map(\.text)
            #expect(before == [])
            // A user rule ahead of the deny: alice may subscribe to admin/#.
            let subAck = try await publisher.subscribe("admin/#").reasonCodes
            #expect(subAck == [.grantedQoS1])
            try await client.disconnect()
            try await publisher.disconnect()
        }
    }

    @Test("a denied publication is not delivered; v5 PUBACK says 0x87, v3 is silently dropped", arguments: versions)
    func deniedPublish(version: MQTTProtocolVersion) async throws {
        try await Self.withACLNode { node in
            let subscriber = try await Self.login(node, "listener", user: "alice", version: version)
            try await subscriber.subscribe("nopub/#", qos: .atLeastOnce)
            try await subscriber.subscribe("open/marker", qos: .atLeastOnce)
            let publisher = try await Self.login(node, "talker", user: "bob", version: version)
            let result = try await publisher.publish("nopub/x", "refused", qos: .atLeastOnce)
            #expect(result.reasonCode == (version == .v5 ? .notAuthorized : .success))
            let qos2 = try await publisher.publish("nopub/y", "refused too", qos: .exactlyOnce)
            #expect(qos2.reasonCode == (version == .v5 ? .notAuthorized : .success))
            try await publisher.publish("nopub/z", "refused at qos 0")
            // The connection stays usable.
            try await publisher.publish("open/marker", "END", qos: .atLeastOnce)
            let before = try await subscriber.messages(before: "END").map(\.text)
            #expect(before == [])
            try await subscriber.disconnect()
            try await publisher.disconnect()
        }
    }

    @Test("%u rules give each user their own tree; anonymous clients get none", arguments: versions)
    func userPlaceholder(version: MQTTProtocolVersion) async throws {
        try await Self.withACLNode { node in
            let alice = try await Self.login(node, "a-client", user: "alice", version: version)
            let denied = Self.refused(version)
            let subAck = try await alice.subscribe("users/alice/#").reasonCodes
            #expect(subAck == [.grantedQoS1])
            let subAck2 = try await alice.subscribe("users/bob/#").reasonCodes
            #expect(subAck2 == [denied])
            let subAck3 = try await alice.subscribe("users/+/inbox").reasonCodes
            #expect(subAck3 == [denied])
            let bob = try await Self.login(node, "b-client", user: "bob", version: version)
            let toAlice = try await bob.publish("users/alice/inbox", "hi alice", qos: .atLeastOnce)
            #expect(toAlice.reasonCode == (version == .v5 ? .notAuthorized : .success))
            let own = try await bob.publish("users/bob/outbox", "mine", qos: .atLeastOnce)
            #expect(own.reasonCode == (version == .v5 ? .noMatchingSubscribers : .success))
            try await alice.publish("users/alice/inbox", "END", qos: .atLeastOnce)
            let before = try await alice.messages(before: "END").map(\.text)
            #expect(before == [])

            let anonymous = try await TestClient.connect(node, "anon", version: version)
            let subAck4 = try await anonymous.subscribe("users/alice/#").reasonCodes
            #expect(subAck4 == [denied])
            for client in [alice, bob, anonymous] { try await client.disconnect() }
        }
    }

    @Test("%c rules give each client id its own tree", arguments: versions)
    func clientPlaceholder(version: MQTTProtocolVersion) async throws {
        try await Self.withACLNode { node in
            let device = try await TestClient.connect(node, "dev-7", version: version)
            let denied = Self.refused(version)
            let subAck = try await device.subscribe("clients/dev-7/cmd").reasonCodes
            #expect(subAck == [.grantedQoS1])
            let subAck2 = try await device.subscribe("clients/dev-8/cmd").reasonCodes
            #expect(subAck2 == [denied])
            let other = try await TestClient.connect(node, "dev-8", version: version)
            let result = try await other.publish("clients/dev-7/cmd", "not yours", qos: .atLeastOnce)
            #expect(result.reasonCode == (version == .v5 ? .notAuthorized : .success))
            try await device.publish("clients/dev-7/cmd", "END", qos: .atLeastOnce)
            let before = try await device.messages(before: "END").map(\.text)
            #expect(before == [])
            try await device.disconnect()
            try await other.disconnect()
        }
    }

    @Test("clients cannot publish into $SYS (as mosquitto and EMQX refuse it), so broker statistics cannot be spoofed")
    func sysIsReadOnly() async throws {
        try await withNode(["--name", "guarded", "--sys-interval", "3600"]) { node in
            let reader = try await TestClient.connect(node, "sys-reader")
            try await reader.subscribe("$SYS/brokers/guarded/version", qos: .atLeastOnce)
            _ = try await reader.next()  // the genuine value (published once, at start-up, with this interval)
            let spoofer = try await TestClient.connect(node, "spoofer")
            let result = try await spoofer.publish(
                "$SYS/brokers/guarded/version", "spoofed", qos: .atLeastOnce, retain: true)
            #expect(result.reasonCode == .notAuthorized, "PUBACK \(result.reasonCode)")
            let late = try await TestClient.connect(node, "late-reader")
            try await late.subscribe("$SYS/brokers/guarded/version", qos: .atLeastOnce)
            let stored = try await late.next()
            #expect(stored.text != "spoofed", "the retained $SYS value was replaced by a client")
            for client in [reader, spoofer, late] { try await client.disconnect() }
        }
    }

    @Test("v5: a QoS 2 PUBLISH refused with PUBREC 0x87 does not block its packet identifier for the next message")
    func refusedQoS2FreesPacketIdentifier() async throws {
        try await Self.withACLNode { node in
            let subscriber = try await Self.login(node, "qos2-sub", user: "alice", version: .v5)
            try await subscriber.subscribe("open/t", qos: .exactlyOnce)
            let (raw, _) = try await RawConnection.connect(port: node.mqttPort, clientID: "qos2-pub")
            let id = PacketID(rawValue: 5)!
            try await raw.send(.publish(.init(topic: "nopub/x", payload: ByteBuffer(string: "refused"), qos: .exactlyOnce, packetID: id)))
            let refusal = try await raw.expectPacket()
            #expect(refusal == .pubRec(.init(packetID: id, reasonCode: .notAuthorized)))
            // A PUBREC with a failure code ends the exchange [MQTT-4.3.3]: no PUBREL, and the identifier is free.
            try await raw.send(.publish(.init(topic: "open/t", payload: ByteBuffer(string: "allowed"), qos: .exactlyOnce, packetID: id)))
            let accepted = try await raw.expectPacket()
            #expect(accepted == .pubRec(.init(packetID: id)))
            try await raw.send(.pubRel(.init(packetID: id)))
            let completed = try await raw.expectPacket()
            #expect(completed == .pubComp(.init(packetID: id)))
            try await raw.send(.publish(.init(topic: "open/t", payload: ByteBuffer(string: "END"), qos: .atLeastOnce, packetID: PacketID(rawValue: 6)!)))
            _ = try await raw.expectPacket()
            let delivered = try await subscriber.messages(before: "END").map(\.text)
            #expect(delivered == ["allowed"], "the second message, reusing identifier 5, must be delivered")
            await raw.close()
            try await subscriber.disconnect()
        }
    }

    @Test("a refused retained PUBLISH is not stored")
    func deniedRetainedNotStored() async throws {
        try await Self.withACLNode { node in
            let publisher = try await Self.login(node, "ret-pub", user: "bob", version: .v5)
            let result = try await publisher.publish("nopub/kept", "refused", qos: .atLeastOnce, retain: true)
            #expect(result.reasonCode == .notAuthorized)
            let reader = try await Self.login(node, "ret-read", user: "alice", version: .v5)
            let retained = try await RetainTests.retainedOnSubscribe(reader, "nopub/kept").map(\.text)
            #expect(retained == [])
            try await publisher.disconnect()
            try await reader.disconnect()
        }
    }

    @Test("a will on a topic the client may not publish to is never published")
    func deniedWill() async throws {
        try await Self.withACLNode { node in
            let watcher = try await Self.login(node, "will-watch", user: "alice", version: .v5)
            try await watcher.subscribe("nopub/#", qos: .atLeastOnce)
            try await watcher.watchSys("sessions/count")
            let client = try await TestClient.connect(node, "will-denied") { config in
                config.username = "bob"
                config.password = ByteBuffer(string: "bob-pw")
                config.will = .init(topic: "nopub/will", payload: ByteBuffer(string: "forbidden will"), qos: .atLeastOnce)
            }
            _ = try await watcher.messages(untilSys: "sessions/count") { $0 == 2 }
            await client.close()
            let before = try await watcher.messages(untilSys: "sessions/count") { $0 == 1 }
            #expect(before.map(\.text) == [])
            try await watcher.disconnect()
        }
    }
}
