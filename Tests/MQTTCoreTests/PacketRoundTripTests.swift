import NIOCore
import Testing

@testable import MQTTCore

/// Encode, then decode, for every packet kind in every version: the value must survive (v3 keeps what it can carry).
@Suite("Packet round trip")
struct PacketRoundTripTests {
    typealias F = Fixtures

    static let v5Cases: [RoundTripCase] = [
        RoundTripCase("CONNECT minimal", F.connect(.v5)),
        RoundTripCase("CONNECT every property, will with every will property", .connect(F.fullConnect(.v5))),
        RoundTripCase(
            "CONNECT empty client id, password without user name",
            .connect(.init(version: .v5, clientID: "", keepAlive: 0, password: buffer("pw")))),
        RoundTripCase(
            "CONNECT will qos0 no retain, no will properties",
            .connect(.init(version: .v5, clientID: "c", will: .init(topic: "w", payload: .init())))),
        RoundTripCase("CONNACK session present", .connAck(.init(sessionPresent: true))),
        RoundTripCase(
            "CONNACK every property",
            .connAck(.init(sessionPresent: false, reasonCode: .success, properties: F.fullProperties(.connAck)))),
        RoundTripCase("CONNACK failure", .connAck(.init(sessionPresent: false, reasonCode: .badUserNameOrPassword))),
        RoundTripCase("PUBLISH qos0", F.publish(.atMostOnce)),
        RoundTripCase("PUBLISH qos0 empty payload", F.publish(.atMostOnce, payload: .init())),
        RoundTripCase("PUBLISH qos1 retain", F.publish(.atLeastOnce, id: 1, retain: true)),
        RoundTripCase("PUBLISH qos2 dup id 65535", F.publish(.exactlyOnce, id: 65_535, dup: true)),
        RoundTripCase(
            "PUBLISH every property, repeated subscription identifiers",
            F.publish(.atLeastOnce, id: 9, properties: F.fullProperties(.publish))),
        RoundTripCase(
            "PUBLISH empty topic with topic alias",
            .publish(.init(topic: nil, payload: buffer("x"), properties: props { $0.topicAlias = 3 }))),
        RoundTripCase("PUBLISH 2-byte remaining length", F.publish(.atMostOnce, payload: F.payload(200))),
        RoundTripCase("PUBACK success", .pubAck(F.ack(1))),
        RoundTripCase("PUBACK reason code only", .pubAck(F.ack(2, .noMatchingSubscribers))),
        RoundTripCase("PUBACK every property", .pubAck(F.ack(3, .quotaExceeded, F.fullProperties(.pubAck)))),
        RoundTripCase("PUBACK success with properties", .pubAck(F.ack(4, .success, F.fullProperties(.pubAck)))),
        RoundTripCase("PUBREC success", .pubRec(F.ack(5))),
        RoundTripCase(
            "PUBREC every property", .pubRec(F.ack(6, .implementationSpecificError, F.fullProperties(.pubRec)))),
        RoundTripCase("PUBREL success", .pubRel(F.ack(7))),
        RoundTripCase("PUBREL every property", .pubRel(F.ack(8, .packetIdentifierNotFound, F.fullProperties(.pubRel)))),
        RoundTripCase("PUBCOMP success", .pubComp(F.ack(9))),
        RoundTripCase(
            "PUBCOMP every property", .pubComp(F.ack(10, .packetIdentifierNotFound, F.fullProperties(.pubComp)))),
        RoundTripCase(
            "SUBSCRIBE every option combination",
            .subscribe(.init(packetID: F.pid(11), subscriptions: F.v5Subscriptions))),
        RoundTripCase(
            "SUBSCRIBE every property",
            .subscribe(
                .init(
                    packetID: F.pid(12), subscriptions: [F.v5Subscriptions[1]], properties: F.fullProperties(.subscribe)
                ))),
        RoundTripCase(
            "SUBACK mixed codes",
            .subAck(
                .init(
                    packetID: F.pid(13),
                    reasonCodes: [
                        .grantedQoS0, .grantedQoS1, .grantedQoS2, .notAuthorized, .sharedSubscriptionsNotSupported,
                    ]))),
        RoundTripCase(
            "SUBACK every property",
            .subAck(.init(packetID: F.pid(14), reasonCodes: [.grantedQoS1], properties: F.fullProperties(.subAck)))),
        RoundTripCase("UNSUBSCRIBE", .unsubscribe(.init(packetID: F.pid(15), filters: ["a/b", "#", "$share/g/+/x"]))),
        RoundTripCase(
            "UNSUBSCRIBE every property",
            .unsubscribe(.init(packetID: F.pid(16), filters: ["a"], properties: F.fullProperties(.unsubscribe)))),
        RoundTripCase(
            "UNSUBACK", .unsubAck(.init(packetID: F.pid(17), reasonCodes: [.success, .noSubscriptionExisted]))),
        RoundTripCase(
            "UNSUBACK every property",
            .unsubAck(
                .init(packetID: F.pid(18), reasonCodes: [.notAuthorized], properties: F.fullProperties(.unsubAck)))),
        RoundTripCase("PINGREQ", .pingReq),
        RoundTripCase("PINGRESP", .pingResp),
        RoundTripCase("DISCONNECT normal", .disconnect(.init())),
        RoundTripCase("DISCONNECT with will", .disconnect(.init(reasonCode: .disconnectWithWillMessage))),
        RoundTripCase(
            "DISCONNECT every property",
            .disconnect(.init(reasonCode: .serverMoved, properties: F.fullProperties(.disconnect)))),
        RoundTripCase(
            "DISCONNECT normal with properties",
            .disconnect(.init(reasonCode: .normalDisconnection, properties: F.fullProperties(.disconnect)))),
        RoundTripCase("AUTH empty", .auth(.init())),
        RoundTripCase(
            "AUTH every property",
            .auth(.init(reasonCode: .continueAuthentication, properties: F.fullProperties(.auth)))),
        RoundTripCase("AUTH re-authenticate", .auth(.init(reasonCode: .reAuthenticate))),
    ]

    /// v3.1.1: v5-only fields are set on the input where they exist, and the expected value is what 3.1.1 carries.
    static let v311Cases: [RoundTripCase] = {
        var stripped = F.fullConnect(.v3_1_1)
        var full = stripped
        full.properties = F.fullProperties(.connect)  // encoder must drop these
        stripped.will!.properties = .init()
        let props = F.fullProperties(.publish)
        return [
            RoundTripCase("CONNECT minimal", F.connect(.v3_1_1)),
            RoundTripCase("CONNECT full, properties dropped", .connect(full), expected: .connect(stripped)),
            RoundTripCase(
                "CONNECT empty client id, no clean session",
                .connect(.init(version: .v3_1_1, clientID: "", cleanStart: false))),
            RoundTripCase("CONNACK accepted, session present", .connAck(.init(sessionPresent: true))),
            RoundTripCase(
                "CONNACK properties dropped",
                .connAck(.init(sessionPresent: false, properties: F.fullProperties(.connAck))),
                expected: .connAck(.init(sessionPresent: false))),
            RoundTripCase(
                "CONNACK not authorized", .connAck(.init(sessionPresent: false, reasonCode: .notAuthorized))),
            RoundTripCase(
                "CONNACK server busy becomes server unavailable (return code 3)",
                .connAck(.init(sessionPresent: false, reasonCode: .serverBusy)),
                expected: .connAck(.init(sessionPresent: false, reasonCode: .serverUnavailable))),
            RoundTripCase(
                "CONNACK banned becomes not authorized (return code 5)",
                .connAck(.init(sessionPresent: false, reasonCode: .banned)),
                expected: .connAck(.init(sessionPresent: false, reasonCode: .notAuthorized))),
            RoundTripCase("PUBLISH qos0", F.publish(.atMostOnce)),
            RoundTripCase("PUBLISH qos1 retain", F.publish(.atLeastOnce, id: 1, retain: true)),
            RoundTripCase("PUBLISH qos2 dup", F.publish(.exactlyOnce, id: 2, dup: true, payload: F.payload(500))),
            RoundTripCase(
                "PUBLISH properties dropped", F.publish(.atLeastOnce, id: 3, properties: props),
                expected: F.publish(.atLeastOnce, id: 3)),
            RoundTripCase("PUBACK", .pubAck(F.ack(1))),
            RoundTripCase(
                "PUBACK reason code dropped", .pubAck(F.ack(1, .quotaExceeded, F.fullProperties(.pubAck))),
                expected: .pubAck(F.ack(1))),
            RoundTripCase("PUBREC", .pubRec(F.ack(2))),
            RoundTripCase("PUBREL", .pubRel(F.ack(3))),
            RoundTripCase(
                "PUBCOMP reason code dropped", .pubComp(F.ack(4, .packetIdentifierNotFound)),
                expected: .pubComp(F.ack(4))),
            RoundTripCase(
                "SUBSCRIBE v5 options dropped", .subscribe(.init(packetID: F.pid(5), subscriptions: F.v5Subscriptions)),
                expected: .subscribe(.init(packetID: F.pid(5), subscriptions: F.v3Subscriptions))),
            RoundTripCase(
                "SUBACK granted and failure",
                .subAck(
                    .init(
                        packetID: F.pid(6), reasonCodes: [.grantedQoS0, .grantedQoS1, .grantedQoS2, .unspecifiedError]))
            ),
            RoundTripCase(
                "SUBACK v5 failure codes become 0x80",
                .subAck(.init(packetID: F.pid(7), reasonCodes: [.notAuthorized, .grantedQoS1, .topicFilterInvalid])),
                expected: .subAck(
                    .init(packetID: F.pid(7), reasonCodes: [.unspecifiedError, .grantedQoS1, .unspecifiedError]))),
            RoundTripCase("UNSUBSCRIBE", .unsubscribe(.init(packetID: F.pid(8), filters: ["a/b", "+/#"]))),
            RoundTripCase(
                "UNSUBACK reason codes dropped", .unsubAck(.init(packetID: F.pid(9), reasonCodes: [.success])),
                expected: .unsubAck(.init(packetID: F.pid(9)))),
            RoundTripCase("PINGREQ", .pingReq),
            RoundTripCase("PINGRESP", .pingResp),
            RoundTripCase(
                "DISCONNECT reason dropped", .disconnect(.init(reasonCode: .serverShuttingDown)),
                expected: .disconnect(.init())),
        ]
    }()

    static let v31Cases: [RoundTripCase] = {
        var full = F.fullConnect(.v3_1)
        full.will!.properties = .init()
        return [
            RoundTripCase("CONNECT 3.1 minimal", F.connect(.v3_1)),
            RoundTripCase("CONNECT 3.1 with will, user name and password", .connect(full)),
        ]
    }()

    @Test("v5 round trip", arguments: v5Cases)
    func roundTripV5(_ row: RoundTripCase) throws {
        try check(row, .v5)
    }

    @Test("v3.1.1 round trip", arguments: v311Cases)
    func roundTripV311(_ row: RoundTripCase) throws {
        try check(row, .v3_1_1)
    }

    @Test("v3.1 round trip", arguments: v31Cases)
    func roundTripV31(_ row: RoundTripCase) throws {
        try check(row, .v3_1)
    }

    private func check(_ row: RoundTripCase, _ version: MQTTProtocolVersion) throws {
        let bytes = encoded(row.packet, version)
        #expect(row.packet.encodedSize(version: version) == bytes.count)
        let decoded = try decodeExactlyOne(bytes, version: version)
        #expect(decoded == row.expected)
        // The expected value is a fixed point: encoding it again gives bytes that decode to it.
        #expect(try decodeExactlyOne(encoded(row.expected, version), version: version) == row.expected)
        if row.expected == row.packet { #expect(encoded(decoded, version) == bytes) }
        if case .connect(let connect) = row.packet {
            // A server learns the version from CONNECT itself.
            var server = MQTTPacketDecoder(role: .server)
            var input = buffer(bytes)
            #expect(try server.decodeNext(&input) == row.expected)
            #expect(server.version == connect.version)
        }
    }

    @Test("every packet kind is covered in each version")
    func everyKindCovered() {
        #expect(Set(Self.v5Cases.map(\.packet.kind)) == Set(MQTTPacket.Kind.allCases))
        #expect(Set(Self.v311Cases.map(\.packet.kind)) == Set(MQTTPacket.Kind.allCases).subtracting([.auth]))
    }

    @Test("every property appears in some v5 round trip row")
    func everyPropertyCovered() {
        var seen = Set<MQTTPropertyID>()
        for row in Self.v5Cases {
            switch row.packet {
            case .connect(let c):
                seen.formUnion(c.properties.presentIDs)
                seen.formUnion(c.will?.properties.presentIDs ?? [])
            case .connAck(let p): seen.formUnion(p.properties.presentIDs)
            case .publish(let p): seen.formUnion(p.properties.presentIDs)
            case .pubAck(let p), .pubRec(let p), .pubRel(let p), .pubComp(let p):
                seen.formUnion(p.properties.presentIDs)
            case .subscribe(let p): seen.formUnion(p.properties.presentIDs)
            case .subAck(let p): seen.formUnion(p.properties.presentIDs)
            case .unsubscribe(let p): seen.formUnion(p.properties.presentIDs)
            case .unsubAck(let p): seen.formUnion(p.properties.presentIDs)
            case .disconnect(let p): seen.formUnion(p.properties.presentIDs)
            case .auth(let p): seen.formUnion(p.properties.presentIDs)
            case .pingReq, .pingResp: break
            }
        }
        #expect(seen == Set(MQTTPropertyID.allCases))
    }

    /// Remaining Length crosses a size boundary at 128, 16384 and 2097152 body bytes.
    @Test(
        "PUBLISH whose remaining length is at a variable byte integer boundary",
        arguments: [0, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152])
    func remainingLengthBoundaries(bodyLength: Int) throws {
        // qos0 body = 2-byte length + topic + payload.
        let topicBytes = Fixtures.topic.value.utf8.count
        let payloadLength = max(0, bodyLength - 2 - topicBytes)
        let packet = Fixtures.publish(.atMostOnce, payload: Fixtures.payload(payloadLength))
        let bytes = encoded(packet, .v3_1_1)
        let expectedBody = 2 + topicBytes + payloadLength
        #expect(bytes.count == 1 + ByteBuffer.variableByteIntegerSize(expectedBody) + expectedBody)
        #expect(try decodeExactlyOne(bytes, version: .v3_1_1) == packet)
    }

    @Test("encoding appends after bytes already in the buffer, whatever the reader index")
    func encodeAppends() throws {
        var out = ByteBuffer(bytes: [0xAA, 0xBB, 0xCC])
        out.moveReaderIndex(forwardBy: 2)
        let packet = Fixtures.publish(.atLeastOnce, id: 5, properties: Fixtures.fullProperties(.publish))
        packet.encode(version: .v5, into: &out)
        #expect(out.readInteger(as: UInt8.self) == 0xCC)
        var decoder = MQTTPacketDecoder(role: .client, version: .v5)
        #expect(try decoder.decodeNext(&out) == packet)
        #expect(out.readableBytes == 0)
    }

    @Test("MQTTPacketEncoder writes what encode(version:into:) writes", arguments: [MQTTProtocolVersion.v3_1_1, .v5])
    func packetEncoder(version: MQTTProtocolVersion) throws {
        let encoder = MQTTPacketEncoder(version: version)
        for packet in Fixtures.session(version) {
            var out = ByteBuffer()
            try encoder.encode(data: packet, out: &out)
            #expect(Array(out.readableBytesView) == encoded(packet, version))
        }
    }
}
