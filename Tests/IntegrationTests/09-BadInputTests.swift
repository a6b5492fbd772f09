import MQTTClient
import MQTTCore
import NIOCore
import Testing

/// One piece of bad input sent on a connection of its own.
struct BadInput: Sendable, CustomTestStringConvertible {
    var name: String
    var version: MQTTProtocolVersion
    /// Sent after a successful CONNECT, or instead of it when `beforeConnect`.
    var bytes: [UInt8]
    /// What the server must send before closing: nil for nothing (v3 after CONNECT, or no version known yet).
    var response: MQTTPacket?
    var beforeConnect = false
    var nodeArguments: [String] = []

    var testDescription: String { "\(version) \(name)" }

    /// After CONNECT, v5: DISCONNECT with `reason`.
    static func v5(_ name: String, _ bytes: [UInt8], _ reason: MQTTReasonCode, args: [String] = []) -> BadInput {
        BadInput(name: name, version: .v5, bytes: bytes, response: .disconnect(.init(reasonCode: reason)), nodeArguments: args)
    }

    /// After CONNECT, v3.1.1: closed without a packet.
    static func v3(_ name: String, _ bytes: [UInt8], args: [String] = []) -> BadInput {
        BadInput(name: name, version: .v3_1_1, bytes: bytes, response: nil, nodeArguments: args)
    }

    /// Instead of CONNECT.
    static func first(_ name: String, _ version: MQTTProtocolVersion, _ bytes: [UInt8], _ response: MQTTPacket?) -> BadInput {
        BadInput(name: name, version: version, bytes: bytes, response: response, beforeConnect: true)
    }
}

/// v5 PUBLISH bytes: flags, topic bytes, packet id, raw property block, payload.
private func publish5(flags: UInt8 = 0x30, topic: [UInt8], id: Int? = nil, properties: [UInt8] = [], payload: [UInt8] = [0x2A]) -> [UInt8] {
    Wire.packet(flags, Wire.lengthPrefixed(topic) + (id.map(Wire.u16) ?? []) + Wire.varint(properties.count) + properties + payload)
}

/// v3 PUBLISH bytes.
private func publish3(flags: UInt8 = 0x30, topic: [UInt8], id: Int? = nil, payload: [UInt8] = [0x2A]) -> [UInt8] {
    Wire.packet(flags, Wire.lengthPrefixed(topic) + (id.map(Wire.u16) ?? []) + payload)
}

private let t = Array("bad/t".utf8)

@Suite("09 Bad input", .timeLimit(.minutes(1)))
struct BadInputTests {
    static let cases: [BadInput] = [
        // Malformed packets [MQTT-4.13.1-1]: 0x81.
        .v5("PUBLISH with QoS 3", publish5(flags: 0x36, topic: t, id: 1), .malformedPacket),
        .v5("DUP on a QoS 0 PUBLISH", publish5(flags: 0x38, topic: t), .malformedPacket),
        .v5("SUBSCRIBE with reserved header flags 0000", Wire.packet(0x80, Wire.u16(1) + [0] + Wire.string("a") + [1]), .malformedPacket),
        .v5("PUBREL with header flags 0000", Wire.packet(0x60, Wire.u16(1)), .malformedPacket),
        .v5("reserved packet type 0", [0x00, 0x00], .malformedPacket),
        .v5("remaining length longer than four bytes", [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], .malformedPacket),
        .v5("packet identifier 0", publish5(flags: 0x32, topic: t, id: 0), .malformedPacket),
        .v5("invalid UTF-8 in the topic", publish5(topic: [0x62, 0xC3, 0x28]), .malformedPacket),
        .v5("U+0000 in the topic", publish5(topic: [0x62, 0x00, 0x63]), .malformedPacket),
        .v5("property not allowed in PUBLISH", publish5(topic: t, properties: [0x11, 0, 0, 0, 1]), .malformedPacket),
        .v5("PUBLISH shorter than its topic length", Wire.packet(0x30, Wire.u16(20) + Array("abc".utf8)), .malformedPacket),
        // Protocol errors: 0x82.
        .v5("SUBSCRIBE without topic filters", Wire.packet(0x82, Wire.u16(1) + [0]), .protocolError),
        .v5("UNSUBSCRIBE without topic filters", Wire.packet(0xA2, Wire.u16(1) + [0]), .protocolError),
        .v5("AUTH without an authentication method", [0xF0, 0x00], .protocolError),
        .v5("empty topic without a topic alias", publish5(topic: []), .protocolError),
        .v5("Subscription Identifier sent by the client", publish5(topic: t, properties: [0x0B, 0x01]), .protocolError),
        .v5("duplicate Content Type", publish5(topic: t, properties: [0x03, 0, 1, 0x61, 0x03, 0, 1, 0x62]), .protocolError),
        .v5("CONNACK sent by the client", [0x20, 0x03, 0x00, 0x00, 0x00], .protocolError),
        // Other reason codes.
        .v5("wildcard + in a PUBLISH topic", publish5(topic: Array("a/+".utf8)), .topicNameInvalid),
        .v5("wildcard # in a PUBLISH topic", publish5(topic: Array("a/#".utf8)), .topicNameInvalid),
        .v5("topic alias 0", publish5(topic: t, properties: [0x23, 0, 0]), .topicAliasInvalid),
        .v5("invalid topic filter a/#/b", Wire.packet(0x82, Wire.u16(1) + [0] + Wire.string("a/#/b") + [0]), .topicFilterInvalid),
        .v5("Payload Format 1 with a payload that is not UTF-8", publish5(topic: t, properties: [0x01, 0x01], payload: [0xFF, 0xFE]), .payloadFormatInvalid),
        .v5("packet over --max-packet-size", publish5(topic: t, payload: Array(repeating: 0x41, count: 500)), .packetTooLarge, args: ["--max-packet-size", "128"]),
        .v5("more unacknowledged QoS 2 PUBLISHes than --receive-maximum",
            (1...3).flatMap { publish5(flags: 0x34, topic: t, id: $0) }, .receiveMaximumExceeded, args: ["--receive-maximum", "2"]),
        // 3.1.1: the connection is closed [MQTT-4.8.0-1].
        .v3("PUBLISH with QoS 3", publish3(flags: 0x36, topic: t, id: 1)),
        .v3("invalid UTF-8 in the topic", publish3(topic: [0x62, 0xC3, 0x28])),
        .v3("wildcard in a PUBLISH topic", publish3(topic: Array("a/+".utf8))),
        .v3("SUBSCRIBE without topic filters", Wire.packet(0x82, Wire.u16(1))),
        .v3("AUTH, which 3.1.1 does not have", [0xF0, 0x00]),
        .v3("packet identifier 0", publish3(flags: 0x32, topic: t, id: 0)),
        .v3("packet over --max-packet-size", publish3(topic: t, payload: Array(repeating: 0x41, count: 500)), args: ["--max-packet-size", "128"]),
        .v3("second CONNECT", Wire.connect(level: 4, clientID: "again")),
        // Instead of CONNECT.
        .first("PUBLISH before CONNECT", .v5, publish3(topic: t), nil),
        .first("HTTP on the MQTT port", .v5, Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), nil),
        .first("unknown protocol level 6", .v5, Wire.connect(level: 6, clientID: "future"),
               .connAck(.init(sessionPresent: false, reasonCode: .unsupportedProtocolVersion))),
        .first("protocol name MQTT with level 3", .v3_1_1, Wire.connect(level: 3, clientID: "mixed"),
               .connAck(.init(sessionPresent: false, reasonCode: .unsupportedProtocolVersion))),
        .first("CONNECT with the reserved flag set", .v5,
               Wire.packet(0x10, Wire.string("MQTT") + [5, 0x03] + Wire.u16(60) + [0] + Wire.string("r")),
               .connAck(.init(sessionPresent: false, reasonCode: .malformedPacket))),
        .first("CONNECT with an Authentication Method (no enhanced authentication)", .v5,
               Wire.packet(0x10, Wire.string("MQTT") + [5, 0x02] + Wire.u16(60) + [8, 0x15] + Wire.string("SCRAM") + Wire.string("am")),
               .connAck(.init(sessionPresent: false, reasonCode: .badAuthenticationMethod))),
        .first("CONNECT with Receive Maximum 0", .v5,
               Wire.packet(0x10, Wire.string("MQTT") + [5, 0x02] + Wire.u16(60) + [3, 0x21, 0, 0] + Wire.string("rm")),
               .connAck(.init(sessionPresent: false, reasonCode: .protocolError))),
        .first("unknown protocol name", .v3_1_1, Wire.connect(protocolName: "MQTX", level: 4, clientID: "x"), nil),
    ]

    @Test("bad input closes only its own connection, with the right reason code", arguments: cases)
    func badInput(_ bad: BadInput) async throws {
        try await withNode(bad.nodeArguments) { node in
            let healthySubscriber = try await TestClient.connect(node, "healthy-sub")
            try await healthySubscriber.subscribe("healthy/t", qos: .atLeastOnce)
            let healthyPublisher = try await TestClient.connect(node, "healthy-pub")

            let connection = try await RawConnection.open(port: node.mqttPort, version: bad.version)
            if !bad.beforeConnect {
                try await connection.send(.connect(.init(version: bad.version, clientID: "offender")))
                let ack = try await connection.expectPacket()
                #expect(ack.connAckValue?.reasonCode == .success)
            }
            try await connection.send(bytes: bad.bytes)
            var packets = try await connection.packetsUntilClosed(within: .seconds(10))
            // Acknowledgements of the valid packets that came first (receive maximum case) are not the point.
            packets.removeAll { if case .pubRec = $0 { true } else { false } }
            #expect(packets == (bad.response.map { [$0] } ?? []), "\(bad.name)")

            // The node still serves the others, on connections opened before and after.
            try await healthyPublisher.publish("healthy/t", "still here", qos: .atLeastOnce)
            let message = try await healthySubscriber.next()
            #expect(message.text == "still here")
            let fresh = try await TestClient.connect(node, "fresh", version: bad.version)
            try await fresh.publish("healthy/t", "new connection", qos: .atLeastOnce)
            let second = try await healthySubscriber.next()
            #expect(second.text == "new connection")
            for client in [healthySubscriber, healthyPublisher, fresh] { try await client.disconnect() }
        }
    }
}
