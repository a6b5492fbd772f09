import NIOCore
import Testing

@testable import MQTTCore

/// Who is decoding: a server that has not seen CONNECT, a server after a CONNECT of `version`, or a client.
enum Peer: Sendable, Hashable {
    case freshServer
    case server(MQTTProtocolVersion)
    case client(MQTTProtocolVersion)
}

/// One malformed input, tagged with the spec statement (or section, where the statement has no number) it breaks.
struct MalformedCase: Sendable, CustomTestStringConvertible {
    let tag: String
    let peer: Peer
    let bytes: [UInt8]
    let code: MQTTProtocolError.Code
    /// A fragment of the error's reason, so a row cannot pass by failing for some other cause.
    let reason: String

    init(_ tag: String, _ peer: Peer, _ bytes: [UInt8], _ code: MQTTProtocolError.Code, _ reason: String) {
        self.tag = tag
        self.peer = peer
        self.bytes = bytes
        self.code = code
        self.reason = reason
    }

    var testDescription: String { tag }
}

/// Builders for hand-made packets. With default arguments each builds a valid packet (checked below).
enum Raw {
    static func connect(
        name: String = "MQTT", level: UInt8 = 4, flags: UInt8 = 0x02, firstByte: UInt8 = 0x10,
        properties: [UInt8]? = nil, payload: [UInt8] = mqttString("c")
    ) -> [UInt8] {
        let props = properties ?? (level == 5 ? propertyBlock([]) : [])
        return packet(firstByte, mqttString(name) + [level, flags, 0x00, 0x3C] + props + payload)
    }

    static func publish(
        flags: UInt8 = 0, topic: [UInt8] = utf8("t"), id: [UInt8] = [], properties: [UInt8] = [],
        payload: [UInt8] = utf8("p")
    ) -> [UInt8] {
        packet(0x30 | flags, mqttBinary(topic) + id + properties + payload)
    }

    /// A v5 PUBLISH (qos0, topic "t") carrying the given raw properties.
    static func publish5(_ rawProperties: [UInt8]) -> [UInt8] { publish(properties: propertyBlock(rawProperties)) }

    static func subscribe(
        filter: String = "a", options: UInt8 = 0x01, v5: Bool = false, properties: [UInt8] = []
    ) -> [UInt8] {
        packet(0x82, [0x00, 0x01] + (v5 ? propertyBlock(properties) : []) + mqttString(filter) + [options])
    }
}

@Suite("Malformed input")
struct MalformedPacketTests {
    static let v5Connect = Raw.connect(level: 5)

    static let rows: [MalformedCase] = [
        // CONNECT and the first packet.
        .init("[MQTT-3.1.0-1] first packet is PINGREQ", .freshServer, hex("c0 00"), .protocolError, "not CONNECT"),
        .init("[MQTT-3.1.0-1] first packet is SUBSCRIBE", .freshServer, Raw.subscribe(), .protocolError, "not CONNECT"),
        .init("[MQTT-2.1.3-1] CONNECT header flags 0001", .freshServer, Raw.connect(firstByte: 0x11), .malformedPacket, "header flags"),
        .init("[MQTT-3.1.2-3] reserved connect flag", .freshServer, Raw.connect(flags: 0x03), .malformedPacket, "reserved connect flag"),
        .init("[MQTT-3.1.2-1] unknown protocol name", .freshServer, Raw.connect(name: "MQTX"), .protocolError, "protocol name"),
        .init("[MQTT-3.1.2-2] unsupported protocol level 6", .freshServer, Raw.connect(level: 6), .unsupportedProtocolVersion, "protocol level"),
        .init("[MQTT-3.1.2-2] unsupported protocol level 2", .freshServer, Raw.connect(level: 2), .unsupportedProtocolVersion, "protocol level"),
        .init("[MQTT-3.1.2-2] name MQIsdp with level 4", .freshServer, Raw.connect(name: "MQIsdp", level: 4), .unsupportedProtocolVersion, "protocol level"),
        .init("[MQTT-3.1.2-2] name MQTT with level 3", .freshServer, Raw.connect(level: 3), .unsupportedProtocolVersion, "protocol level"),
        .init(
            "v3.1.1 [MQTT-3.1.2-22] password without user name", .freshServer,
            Raw.connect(flags: 0x42, payload: mqttString("c") + mqttBinary([1])), .malformedPacket, "password without username"),
        .init(
            "v3.1 password without user name", .freshServer,
            Raw.connect(name: "MQIsdp", level: 3, flags: 0x42, payload: mqttString("c") + mqttBinary([1])), .malformedPacket,
            "password without username"),
        .init("v3.1.1 [MQTT-3.1.2-13] will QoS without will flag", .freshServer, Raw.connect(flags: 0x0A), .malformedPacket, "without will"),
        .init("v5 [MQTT-3.1.2-11] will QoS without will flag", .freshServer, Raw.connect(level: 5, flags: 0x12), .malformedPacket, "without will"),
        .init("v3.1.1 [MQTT-3.1.2-15] will retain without will flag", .freshServer, Raw.connect(flags: 0x22), .malformedPacket, "without will"),
        .init(
            "v3.1.1 [MQTT-3.1.2-14] will QoS 3", .freshServer,
            Raw.connect(flags: 0x1E, payload: mqttString("c") + mqttString("w") + mqttBinary([])), .malformedPacket, "will qos 3"),
        .init(
            "[MQTT-3.3.2-2] will topic with a wildcard", .freshServer,
            Raw.connect(flags: 0x06, payload: mqttString("c") + mqttString("w/#") + mqttBinary([])), .topicNameInvalid, "wildcard"),
        .init(
            "[MQTT-1.5.4-1] invalid UTF-8 in client identifier", .freshServer, Raw.connect(payload: mqttBinary([0xC3, 0x28])),
            .malformedPacket, "invalid UTF-8"),
        .init(
            "[MQTT-1.5.4-2] U+0000 in user name", .freshServer,
            Raw.connect(flags: 0x82, payload: mqttString("c") + mqttBinary([0x61, 0x00])), .malformedPacket, "U+0000"),
        .init(
            "§2.2.2.2 Topic Alias is not a CONNECT property", .freshServer,
            Raw.connect(level: 5, properties: propertyBlock(hex("23 00 01"))), .malformedPacket, "not allowed"),
        .init(
            "§3.1.2.11.2 Session Expiry Interval twice", .freshServer,
            Raw.connect(level: 5, properties: propertyBlock(hex("11 00 00 00 01 11 00 00 00 02"))), .protocolError, "duplicate"),
        .init(
            "§3.1.2.11.3 Receive Maximum 0", .freshServer, Raw.connect(level: 5, properties: propertyBlock(hex("21 00 00"))),
            .protocolError, "must not be 0"),
        .init(
            "§3.1.2.11.4 Maximum Packet Size 0", .freshServer,
            Raw.connect(level: 5, properties: propertyBlock(hex("27 00 00 00 00"))), .protocolError, "maximum packet size 0"),
        .init(
            "§3.1.2.11.7 Request Problem Information 2", .freshServer,
            Raw.connect(level: 5, properties: propertyBlock(hex("17 02"))), .protocolError, "0 or 1"),
        .init(
            "§3.1.3.2 Topic Alias is not a will property", .freshServer,
            Raw.connect(level: 5, flags: 0x06, payload: mqttString("c") + propertyBlock(hex("23 00 01")) + mqttString("w") + mqttBinary([])),
            .malformedPacket, "not allowed"),
        .init("§3.1.2.11.1 CONNECT v5 without property length", .freshServer, packet(0x10, mqttString("MQTT") + [5, 2, 0, 60]), .malformedPacket, "truncated"),
        .init("§2.1.4 trailing bytes after the CONNECT payload", .freshServer, Raw.connect(payload: mqttString("c") + [0]), .malformedPacket, "trailing"),
        .init("§1.5.4 client identifier longer than the packet", .freshServer, Raw.connect(payload: hex("00 09 63")), .malformedPacket, "truncated"),

        // Fixed header.
        .init("§2.1.2 reserved packet type 0", .server(.v3_1_1), hex("00 00"), .malformedPacket, "reserved packet type"),
        .init("§2.1.2 AUTH does not exist before MQTT 5", .server(.v3_1_1), hex("f0 00"), .malformedPacket, "AUTH"),
        .init("[MQTT-2.1.3-1] PUBREL flags 0000", .server(.v3_1_1), hex("60 02 00 01"), .malformedPacket, "header flags"),
        .init("[MQTT-2.1.3-1] PUBREL flags 0000 (v5)", .server(.v5), hex("60 02 00 01"), .malformedPacket, "header flags"),
        .init("[MQTT-2.1.3-1] SUBSCRIBE flags 0000", .server(.v3_1_1), hex("80 06 00 01 00 01 61 00"), .malformedPacket, "header flags"),
        .init("[MQTT-2.1.3-1] UNSUBSCRIBE flags 0000", .server(.v3_1_1), hex("a0 05 00 01 00 01 61"), .malformedPacket, "header flags"),
        .init("[MQTT-2.1.3-1] PUBACK flags 0010", .server(.v3_1_1), hex("42 02 00 01"), .malformedPacket, "header flags"),
        .init("[MQTT-2.1.3-1] PINGREQ flags 0001", .server(.v5), hex("c1 00"), .malformedPacket, "header flags"),
        .init("[MQTT-2.1.3-1] DISCONNECT flags 1000", .server(.v5), hex("e8 00"), .malformedPacket, "header flags"),
        .init("[MQTT-2.1.3-1] CONNACK flags 0001", .client(.v3_1_1), hex("21 02 00 00"), .malformedPacket, "header flags"),
        .init("[MQTT-2.1.3-1] SUBACK flags 0010", .client(.v5), hex("92 04 00 01 00 00"), .malformedPacket, "header flags"),
        .init("§1.5.5 remaining length of five bytes", .server(.v3_1_1), hex("30 ff ff ff ff 7f"), .malformedPacket, "longer than 4"),

        // PUBLISH.
        .init("[MQTT-3.3.1-4] PUBLISH QoS 3", .server(.v3_1_1), Raw.publish(flags: 0x06, id: [0, 1]), .malformedPacket, "qos 3"),
        .init("[MQTT-3.3.1-2] DUP set on QoS 0", .server(.v3_1_1), Raw.publish(flags: 0x08), .malformedPacket, "dup"),
        .init("[MQTT-3.3.2-2] '+' in topic name", .server(.v3_1_1), Raw.publish(topic: utf8("a/+")), .topicNameInvalid, "wildcard"),
        .init("[MQTT-3.3.2-2] '#' in topic name (v5)", .server(.v5), Raw.publish(topic: utf8("#"), properties: [0]), .topicNameInvalid, "wildcard"),
        .init("[MQTT-1.5.4-1] invalid UTF-8 in topic name", .server(.v3_1_1), Raw.publish(topic: [0xC3, 0x28]), .malformedPacket, "invalid UTF-8"),
        .init("[MQTT-1.5.4-1] overlong encoding C0 AF", .server(.v3_1_1), Raw.publish(topic: [0xC0, 0xAF]), .malformedPacket, "invalid UTF-8"),
        .init("[MQTT-1.5.4-1] encoded surrogate ED A0 80", .server(.v5), Raw.publish(topic: [0xED, 0xA0, 0x80], properties: [0]), .malformedPacket, "invalid UTF-8"),
        .init("[MQTT-1.5.4-2] U+0000 in topic name", .server(.v3_1_1), Raw.publish(topic: [0x61, 0x00, 0x62]), .malformedPacket, "U+0000"),
        .init("[MQTT-2.2.1-3] PUBLISH QoS 1 with packet identifier 0", .server(.v3_1_1), Raw.publish(flags: 0x02, id: [0, 0]), .malformedPacket, "identifier 0"),
        .init("[MQTT-3.3.2-8] Topic Alias 0", .server(.v5), Raw.publish5(hex("23 00 00")), .topicAliasInvalid, "topic alias 0"),
        .init("§3.3.2.3.4 empty topic name without Topic Alias (v5)", .server(.v5), Raw.publish(topic: [], properties: [0]), .protocolError, "without topic alias"),
        .init("[MQTT-4.7.3-1] empty topic name (v3.1.1)", .server(.v3_1_1), Raw.publish(topic: []), .topicNameInvalid, "empty topic name"),
        .init("[MQTT-3.3.2-14] Response Topic with a wildcard", .server(.v5), Raw.publish5([0x08] + mqttString("r/+")), .topicNameInvalid, "wildcard"),
        .init("§1.5.4 topic name longer than the packet", .server(.v3_1_1), packet(0x30, hex("00 09 61 62 63")), .malformedPacket, "truncated"),
        .init("§2.2.1 QoS 1 PUBLISH without packet identifier", .server(.v3_1_1), packet(0x32, mqttString("t") + [0]), .malformedPacket, "truncated"),

        // Properties (in a v5 PUBLISH unless stated).
        .init("§2.2.2.2 unknown property identifier 0x07", .server(.v5), Raw.publish5(hex("07 00")), .malformedPacket, "unknown property"),
        .init("§2.2.2.2 property identifier 0x80 0x01 (128)", .server(.v5), Raw.publish5(hex("80 01 00")), .malformedPacket, "unknown property"),
        .init("§2.2.2.2 Session Expiry Interval is not a PUBLISH property", .server(.v5), Raw.publish5(hex("11 00 00 00 01")), .malformedPacket, "not allowed"),
        .init("§2.2.2.2 Reason String is not a PUBLISH property", .server(.v5), Raw.publish5([0x1F] + mqttString("x")), .malformedPacket, "not allowed"),
        .init("§3.3.2.3.3 Message Expiry Interval twice", .server(.v5), Raw.publish5(hex("02 00 00 00 01 02 00 00 00 01")), .protocolError, "duplicate"),
        .init("§3.3.2.3.2 Payload Format Indicator 2", .server(.v5), Raw.publish5(hex("01 02")), .protocolError, "0 or 1"),
        .init("§3.3.2.3.8 Subscription Identifier 0", .server(.v5), Raw.publish5(hex("0b 00")), .protocolError, "subscription identifier 0"),
        .init("§2.2.2 property length past the end of the packet", .server(.v5), Raw.publish(properties: [0x20]), .malformedPacket, "truncated"),
        .init("§2.2.2.2 property value cut short", .server(.v5), Raw.publish(properties: hex("03 02 00 00"), payload: []), .malformedPacket, "truncated"),
        .init("[MQTT-1.5.4-1] invalid UTF-8 in a user property", .server(.v5), Raw.publish5(hex("26 00 01 ff 00 01 61")), .malformedPacket, "invalid UTF-8"),

        // SUBSCRIBE and UNSUBSCRIBE.
        .init("[MQTT-2.2.1-3] SUBSCRIBE packet identifier 0", .server(.v3_1_1), hex("82 06 00 00 00 01 61 00"), .malformedPacket, "identifier 0"),
        .init("[MQTT-2.2.1-3] UNSUBSCRIBE packet identifier 0", .server(.v3_1_1), hex("a2 05 00 00 00 01 61"), .malformedPacket, "identifier 0"),
        .init("[MQTT-2.2.1-3] PUBACK packet identifier 0", .server(.v5), hex("40 02 00 00"), .malformedPacket, "identifier 0"),
        .init("v3.1.1 [MQTT-3.8.3-3] SUBSCRIBE with no topic filters", .server(.v3_1_1), hex("82 02 00 01"), .protocolError, "without topic filters"),
        .init("v5 [MQTT-3.8.3-2] SUBSCRIBE with no topic filters", .server(.v5), hex("82 03 00 01 00"), .protocolError, "without topic filters"),
        .init("[MQTT-3.10.3-2] UNSUBSCRIBE with no topic filters", .server(.v3_1_1), hex("a2 02 00 01"), .protocolError, "without topic filters"),
        .init("v3.1.1 [MQTT-3.8.3-4] reserved subscription option bits", .server(.v3_1_1), Raw.subscribe(options: 0x04), .malformedPacket, "reserved subscription option"),
        .init("v5 [MQTT-3.8.3-5] reserved subscription option bit 6", .server(.v5), Raw.subscribe(options: 0x41, v5: true), .malformedPacket, "reserved subscription option"),
        .init("v5 [MQTT-3.8.3-5] reserved subscription option bit 7", .server(.v5), Raw.subscribe(options: 0x80, v5: true), .malformedPacket, "reserved subscription option"),
        .init("v3.1.1 [MQTT-3.8.3-4] requested QoS 3", .server(.v3_1_1), Raw.subscribe(options: 0x03), .malformedPacket, "qos 3"),
        .init("v5 §3.8.3.1 requested QoS 3", .server(.v5), Raw.subscribe(options: 0x03, v5: true), .malformedPacket, "qos 3"),
        .init("v5 §3.8.3.1 Retain Handling 3", .server(.v5), Raw.subscribe(options: 0x30, v5: true), .protocolError, "retain handling 3"),
        .init("v5 [MQTT-3.8.3-4] No Local on a shared subscription", .server(.v5), Raw.subscribe(filter: "$share/g/a", options: 0x04, v5: true), .protocolError, "no local"),
        .init("v5 §3.8.2.1.2 Subscription Identifier twice in SUBSCRIBE", .server(.v5), Raw.subscribe(v5: true, properties: hex("0b 01 0b 02")), .protocolError, "duplicate"),
        .init("v5 §2.2.2.2 Topic Alias is not a SUBSCRIBE property", .server(.v5), Raw.subscribe(v5: true, properties: hex("23 00 01")), .malformedPacket, "not allowed"),
        .init("[MQTT-4.7.1-1] '#' not in the last level", .server(.v3_1_1), Raw.subscribe(filter: "a/#/b"), .topicFilterInvalid, "multi-level"),
        .init("[MQTT-4.7.1-2] '+' sharing a level", .server(.v3_1_1), Raw.subscribe(filter: "a+/b"), .topicFilterInvalid, "single-level"),
        .init("[MQTT-4.7.3-1] empty topic filter", .server(.v3_1_1), Raw.subscribe(filter: ""), .topicFilterInvalid, "empty topic filter"),
        .init("[MQTT-4.7.3-1] empty filter in UNSUBSCRIBE", .server(.v5), hex("a2 05 00 01 00 00 00"), .topicFilterInvalid, "empty topic filter"),
        .init("[MQTT-4.8.2-2] shared subscription without a filter", .server(.v5), Raw.subscribe(filter: "$share/g", v5: true), .topicFilterInvalid, "without filter"),
        .init("[MQTT-4.8.2-2] share name with a wildcard", .server(.v5), Raw.subscribe(filter: "$share/g+/a", v5: true), .topicFilterInvalid, "share name"),
        .init("§1.5.4 subscription options missing", .server(.v3_1_1), packet(0x82, [0, 1] + mqttString("a")), .malformedPacket, "truncated"),

        // Acknowledgements and the rest.
        .init("§2.1.4 trailing bytes after a v3.1.1 PUBACK", .server(.v3_1_1), hex("40 03 00 01 00"), .malformedPacket, "trailing"),
        .init("§2.1.4 PINGREQ with a body", .server(.v5), hex("c0 01 00"), .malformedPacket, "trailing"),
        .init("§2.1.4 v3.1.1 DISCONNECT with a body", .server(.v3_1_1), hex("e0 01 00"), .malformedPacket, "trailing"),
        .init("§1.5.2 PUBACK with a one-byte identifier", .server(.v5), hex("40 01 00"), .malformedPacket, "truncated"),
        .init("v3.1.1 [MQTT-3.9.3-2] SUBACK return code 0x91", .client(.v3_1_1), hex("90 03 00 01 91"), .malformedPacket, "return code"),
        .init("v3.1.1 [MQTT-3.9.3-2] SUBACK return code 0x03", .client(.v3_1_1), hex("90 03 00 01 03"), .malformedPacket, "return code"),
        .init("§3.2.2.1 CONNACK reserved acknowledge flags", .client(.v3_1_1), hex("20 02 02 00"), .malformedPacket, "reserved connack"),
        .init("§3.2.2.3.3 CONNACK Receive Maximum 0", .client(.v5), hex("20 06 00 00 03 21 00 00"), .protocolError, "must not be 0"),
        .init("§3.2.2.3.4 CONNACK Maximum QoS 2", .client(.v5), hex("20 05 00 00 02 24 02"), .protocolError, "0 or 1"),
        .init("§2.2.2.2 Will Delay Interval is not an AUTH property", .server(.v5), hex("f0 07 18 05 18 00 00 00 01"), .malformedPacket, "not allowed"),
    ]

    @Test("malformed input is refused with the right code", arguments: rows)
    func refused(_ row: MalformedCase) throws {
        var decoder: MQTTPacketDecoder
        var input = ByteBuffer()
        switch row.peer {
        case .freshServer:
            decoder = MQTTPacketDecoder(role: .server)
        case .server(let version):
            decoder = MQTTPacketDecoder(role: .server)
            input.writeBytes(encoded(Fixtures.connect(version), version))
            #expect(try decoder.decodeNext(&input) == Fixtures.connect(version))
        case .client(let version):
            decoder = MQTTPacketDecoder(role: .client, version: version)
        }
        input.writeBytes(row.bytes)
        let error = try #require(protocolError { () throws(MQTTProtocolError) in _ = try decoder.decodeNext(&input) })
        #expect(error.code == row.code)
        #expect(error.reason.contains(row.reason), "reason was: \(error.reason)")
        if case .server(let version) = row.peer { #expect(error.version == version) }
        if case .client(let version) = row.peer { #expect(error.version == version) }
    }

    @Test("the row builders build valid packets when left at their defaults")
    func buildersAreValid() throws {
        var server = MQTTPacketDecoder(role: .server)
        var input = buffer(Raw.connect() + Raw.publish() + Raw.subscribe())
        #expect(try server.decodeNext(&input) == .connect(.init(version: .v3_1_1, clientID: "c")))
        #expect(try server.decodeNext(&input) == .publish(.init(topic: "t", payload: buffer("p"))))
        #expect(try server.decodeNext(&input) == .subscribe(.init(packetID: Fixtures.pid(1), subscriptions: [.init(filter: "a", options: .init(qos: .atLeastOnce))])))

        var server5 = MQTTPacketDecoder(role: .server)
        var input5 = buffer(Self.v5Connect + Raw.publish5([]) + Raw.subscribe(v5: true))
        #expect(try server5.decodeNext(&input5) == .connect(.init(version: .v5, clientID: "c")))
        #expect(try server5.decodeNext(&input5) == .publish(.init(topic: "t", payload: buffer("p"))))
        #expect(try server5.decodeNext(&input5) != nil)
    }

    @Test("the unsupported-level error carries the version its CONNACK should use")
    func unsupportedLevelVersion() throws {
        for (level, version) in [(UInt8(6), MQTTProtocolVersion.v5), (2, .v3_1_1), (0xFF, .v5)] {
            var decoder = MQTTPacketDecoder(role: .server)
            var input = buffer(Raw.connect(level: level))
            let error = protocolError { () throws(MQTTProtocolError) in _ = try decoder.decodeNext(&input) }
            #expect(error?.code == .unsupportedProtocolVersion)
            #expect(error?.version == version)
        }
    }
}
