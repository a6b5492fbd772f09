import NIOCore
import Testing

@testable import MQTTCore

/// Bytes that did not come from our encoder: captured from mosquitto_pub/mosquitto_sub 2.x against a recording
/// socket, or written by hand from the spec. They check the decoder against the world, and the encoder where
/// its output must be byte-identical.
@Suite("Known bytes")
struct KnownBytesTests {
    struct Row: Sendable, CustomTestStringConvertible {
        let name: String
        let version: MQTTProtocolVersion
        let bytes: [UInt8]
        let packet: MQTTPacket
        /// False where the peer wrote properties in another order than ours, which the spec permits.
        let byteIdentical: Bool
        var testDescription: String { name }
    }

    static let rows: [Row] = [
        Row(
            name: "mosquitto_pub 3.1.1 CONNECT with will, user name and password", version: .v3_1_1,
            bytes: hex(
                "10 34 00 04 4d 51 54 54 04 ee 00 1e 00 0c 73 74 61 72 6c 69 6e 67 2d 70 75 62 00 06 77 69 6c 6c 2f 74"
                    + "00 03 62 79 65 00 05 61 6c 69 63 65 00 06 73 65 63 72 65 74"),
            packet: .connect(
                .init(
                    version: .v3_1_1, clientID: "starling-pub", cleanStart: true, keepAlive: 30, username: "alice",
                    password: buffer("secret"),
                    will: .init(topic: "will/t", payload: buffer("bye"), qos: .atLeastOnce, retain: true))),
            byteIdentical: true),
        Row(
            name: "mosquitto_pub 3.1.1 PUBLISH qos1", version: .v3_1_1,
            bytes: hex("32 0c 00 03 61 2f 62 00 01 68 65 6c 6c 6f"),
            packet: .publish(
                .init(topic: "a/b", payload: buffer("hello"), qos: .atLeastOnce, packetID: Fixtures.pid(1))),
            byteIdentical: true),
        Row(
            name: "mosquitto_pub DISCONNECT", version: .v3_1_1, bytes: hex("e0 00"), packet: .disconnect(.init()),
            byteIdentical: true),
        Row(
            name: "mosquitto_pub 5 CONNECT with session expiry and receive maximum", version: .v5,
            bytes: hex(
                "10 1e 00 04 4d 51 54 54 05 02 00 3c 08 11 00 00 0e 10 21 00 14 00 09 73 74 61 72 6c 69 6e 67 35"),
            packet: .connect(
                .init(
                    version: .v5, clientID: "starling5", keepAlive: 60,
                    properties: props {
                        $0.sessionExpiryInterval = 3_600
                        $0.receiveMaximum = 20
                    })),
            byteIdentical: true),
        Row(
            name: "mosquitto_pub 5 PUBLISH qos1 retained with user property, expiry, content type", version: .v5,
            bytes: hex(
                "33 2e 00 0c 73 65 6e 73 6f 72 73 2f 74 65 6d 70 00 01 19 26 00 01 6b 00 01 76 02 00 00 00 3c 03 00 0a"
                    + "74 65 78 74 2f 70 6c 61 69 6e 32 31 2e 35"),
            packet: .publish(
                .init(
                    topic: "sensors/temp", payload: buffer("21.5"), qos: .atLeastOnce, retain: true,
                    packetID: Fixtures.pid(1),
                    properties: props {
                        $0.userProperties = [.init("k", "v")]
                        $0.messageExpiryInterval = 60
                        $0.contentType = "text/plain"
                    })),
            byteIdentical: false),
        Row(
            name: "mosquitto_sub 3.1 CONNECT", version: .v3_1,
            bytes: hex("10 13 00 06 4d 51 49 73 64 70 03 02 00 3c 00 05 73 75 62 33 31"),
            packet: .connect(.init(version: .v3_1, clientID: "sub31", keepAlive: 60)), byteIdentical: true),
        Row(
            name: "mosquitto_sub 3.1 SUBSCRIBE two filters qos2", version: .v3_1,
            bytes: hex("82 0e 00 01 00 03 61 2f 2b 02 00 03 62 2f 23 02"),
            packet: .subscribe(
                .init(
                    packetID: Fixtures.pid(1),
                    subscriptions: [
                        .init(filter: "a/+", options: .init(qos: .exactlyOnce)),
                        .init(filter: "b/#", options: .init(qos: .exactlyOnce)),
                    ])),
            byteIdentical: true),
        Row(
            name: "mosquitto_sub 5 SUBSCRIBE with subscription identifier, user property, shared filter",
            version: .v5,
            bytes: hex(
                "82 21 00 01 09 0b 07 26 00 01 70 00 01 71 00 03 61 2f 2b 01 00 0c 24 73 68 61 72 65 2f 67 2f 78 2f 23"
                    + "01"),
            packet: .subscribe(
                .init(
                    packetID: Fixtures.pid(1),
                    subscriptions: [
                        .init(filter: "a/+", options: .init(qos: .atLeastOnce)),
                        .init(filter: "$share/g/x/#", options: .init(qos: .atLeastOnce)),
                    ],
                    properties: props {
                        $0.subscriptionIdentifiers = [7]
                        $0.userProperties = [.init("p", "q")]
                    })),
            byteIdentical: true),
        // Hand-written from the spec.
        Row(
            name: "spec 3.1.2.11 example: v5 CONNECT header, C2 flags, keep alive 10, session expiry 10", version: .v5,
            bytes: hex("10 19 00 04 4d 51 54 54 05 c2 00 0a 05 11 00 00 00 0a 00 01 63 00 01 75 00 01 70"),
            packet: .connect(
                .init(
                    version: .v5, clientID: "c", keepAlive: 10, username: "u", password: buffer("p"),
                    properties: props { $0.sessionExpiryInterval = 10 })),
            byteIdentical: true),
        Row(
            name: "spec 3.1.2.10 example: v3.1.1 CONNECT header, CE flags, keep alive 10", version: .v3_1_1,
            bytes: hex("10 1b 00 04 4d 51 54 54 04 ce 00 0a 00 01 63 00 01 77 00 02 68 69 00 01 75 00 02 00 ff"),
            packet: .connect(
                .init(
                    version: .v3_1_1, clientID: "c", keepAlive: 10, username: "u", password: buffer([0x00, 0xFF]),
                    will: .init(topic: "w", payload: buffer("hi"), qos: .atLeastOnce))),
            byteIdentical: true),
        Row(
            name: "v3.1.1 CONNACK session present", version: .v3_1_1, bytes: hex("20 02 01 00"),
            packet: .connAck(.init(sessionPresent: true)), byteIdentical: true),
        Row(
            name: "v3.1.1 CONNACK return code 4 (bad user name or password)", version: .v3_1_1,
            bytes: hex("20 02 00 04"),
            packet: .connAck(.init(sessionPresent: false, reasonCode: .badUserNameOrPassword)), byteIdentical: true),
        Row(
            name: "v5 CONNACK with topic alias maximum and assigned client id", version: .v5,
            bytes: hex("20 0f 00 00 0c 22 00 05 12 00 06 61 75 74 6f 2d 31"),
            packet: .connAck(
                .init(
                    sessionPresent: false,
                    properties: props {
                        $0.assignedClientIdentifier = "auto-1"
                        $0.topicAliasMaximum = 5
                    })),
            byteIdentical: false),
        Row(name: "PINGREQ", version: .v3_1_1, bytes: hex("c0 00"), packet: .pingReq, byteIdentical: true),
        Row(name: "PINGRESP", version: .v5, bytes: hex("d0 00"), packet: .pingResp, byteIdentical: true),
        Row(
            name: "v3.1.1 PUBREL", version: .v3_1_1, bytes: hex("62 02 12 34"), packet: .pubRel(Fixtures.ack(0x1234)),
            byteIdentical: true),
        Row(
            name: "v5 PUBACK without reason code means success", version: .v5, bytes: hex("40 02 00 07"),
            packet: .pubAck(Fixtures.ack(7)), byteIdentical: true),
        Row(
            name: "v5 PUBACK success with an empty property block", version: .v5, bytes: hex("40 04 00 07 00 00"),
            packet: .pubAck(Fixtures.ack(7)), byteIdentical: false),
        Row(
            name: "v5 PUBREC no matching subscribers, no property length", version: .v5, bytes: hex("50 03 00 08 10"),
            packet: .pubRec(Fixtures.ack(8, .noMatchingSubscribers)), byteIdentical: true),
        Row(
            name: "v3.1.1 SUBACK with a failure", version: .v3_1_1, bytes: hex("90 05 00 02 00 02 80"),
            packet: .subAck(
                .init(packetID: Fixtures.pid(2), reasonCodes: [.grantedQoS0, .grantedQoS2, .unspecifiedError])),
            byteIdentical: true),
        Row(
            name: "v5 SUBACK with reason string", version: .v5, bytes: hex("90 09 00 02 04 1f 00 01 78 01 87"),
            packet: .subAck(
                .init(
                    packetID: Fixtures.pid(2), reasonCodes: [.grantedQoS1, .notAuthorized],
                    properties: props { $0.reasonString = "x" })),
            byteIdentical: true),
        Row(
            name: "v3.1.1 UNSUBSCRIBE", version: .v3_1_1, bytes: hex("a2 07 00 03 00 03 61 2f 62"),
            packet: .unsubscribe(.init(packetID: Fixtures.pid(3), filters: ["a/b"])), byteIdentical: true),
        Row(
            name: "v3.1.1 UNSUBACK", version: .v3_1_1, bytes: hex("b0 02 00 03"),
            packet: .unsubAck(.init(packetID: Fixtures.pid(3))), byteIdentical: true),
        Row(
            name: "v5 UNSUBACK", version: .v5, bytes: hex("b0 05 00 03 00 00 11"),
            packet: .unsubAck(.init(packetID: Fixtures.pid(3), reasonCodes: [.success, .noSubscriptionExisted])),
            byteIdentical: true),
        Row(
            name: "v5 DISCONNECT session taken over", version: .v5, bytes: hex("e0 01 8e"),
            packet: .disconnect(.init(reasonCode: .sessionTakenOver)), byteIdentical: true),
        Row(
            name: "v5 DISCONNECT with session expiry 0", version: .v5, bytes: hex("e0 07 00 05 11 00 00 00 00"),
            packet: .disconnect(.init(properties: props { $0.sessionExpiryInterval = 0 })), byteIdentical: true),
        Row(
            name: "v5 AUTH continue with method", version: .v5, bytes: hex("f0 0a 18 08 15 00 05 53 43 52 41 4d"),
            packet: .auth(
                .init(reasonCode: .continueAuthentication, properties: props { $0.authenticationMethod = "SCRAM" })),
            byteIdentical: true),
        Row(
            name: "v5 PUBLISH with empty topic and topic alias", version: .v5, bytes: hex("30 07 00 00 03 23 00 02 78"),
            packet: .publish(.init(topic: nil, payload: buffer("x"), properties: props { $0.topicAlias = 2 })),
            byteIdentical: true),
    ]

    @Test("decode known bytes", arguments: rows)
    func decode(row: Row) throws {
        #expect(try decodeExactlyOne(row.bytes, version: row.version) == row.packet)
    }

    @Test("encode to the same bytes where the order is ours", arguments: rows.filter(\.byteIdentical))
    func encode(row: Row) {
        #expect(encoded(row.packet, row.version) == row.bytes)
    }

    @Test("a real client's session through the server decoder")
    func mosquittoSession() throws {
        var decoder = MQTTPacketDecoder(role: .server)
        var input = buffer(Self.rows[3].bytes + Self.rows[4].bytes + Self.rows[2].bytes)
        #expect(try decoder.decodeNext(&input) == Self.rows[3].packet)
        #expect(decoder.version == .v5)
        #expect(try decoder.decodeNext(&input) == Self.rows[4].packet)
        #expect(try decoder.decodeNext(&input) == .disconnect(.init()))
        #expect(input.readableBytes == 0)
    }
}
