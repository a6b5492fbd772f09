import NIOCore
import Testing

@testable import MQTTCore

/// `MQTTProtocolError.response(version:afterConnect:)` is the one place an error becomes CONNACK, DISCONNECT or a
/// plain close.
@Suite("Protocol error response")
struct ProtocolErrorResponseTests {
    enum Expected: Sendable, Hashable {
        case close
        case connAck(UInt8)
        case disconnect(UInt8)
    }

    struct Row: Sendable, CustomTestStringConvertible {
        let code: MQTTProtocolError.Code
        let version: MQTTProtocolVersion?
        let afterConnect: Bool
        let expected: Expected
        var testDescription: String {
            "\(code) \(version.map(\.description) ?? "unknown version") \(afterConnect ? "after" : "before") CONNECT"
        }
    }

    static let rows: [Row] = [
        // Version unknown: the first packet was not a readable CONNECT. Nothing can be sent.
        Row(code: .malformedPacket, version: nil, afterConnect: false, expected: .close),
        Row(code: .protocolError, version: nil, afterConnect: false, expected: .close),
        Row(code: .packetTooLarge, version: nil, afterConnect: true, expected: .close),
        // v5 before CONNECT is accepted: CONNACK with the reason code [MQTT-3.2.2-7].
        Row(code: .malformedPacket, version: .v5, afterConnect: false, expected: .connAck(0x81)),
        Row(code: .protocolError, version: .v5, afterConnect: false, expected: .connAck(0x82)),
        Row(code: .unsupportedProtocolVersion, version: .v5, afterConnect: false, expected: .connAck(0x84)),
        Row(code: .clientIdentifierNotValid, version: .v5, afterConnect: false, expected: .connAck(0x85)),
        Row(code: .topicNameInvalid, version: .v5, afterConnect: false, expected: .connAck(0x90)),
        Row(code: .packetTooLarge, version: .v5, afterConnect: false, expected: .connAck(0x95)),
        // v5 after CONNECT: DISCONNECT with the reason code [MQTT-4.13.1-1].
        Row(code: .malformedPacket, version: .v5, afterConnect: true, expected: .disconnect(0x81)),
        Row(code: .protocolError, version: .v5, afterConnect: true, expected: .disconnect(0x82)),
        Row(code: .topicAliasInvalid, version: .v5, afterConnect: true, expected: .disconnect(0x94)),
        Row(code: .packetTooLarge, version: .v5, afterConnect: true, expected: .disconnect(0x95)),
        Row(code: .receiveMaximumExceeded, version: .v5, afterConnect: true, expected: .disconnect(0x93)),
        Row(code: .keepAliveTimeout, version: .v5, afterConnect: true, expected: .disconnect(0x8D)),
        // v3 before CONNECT: only the return codes 3.1.1 defines get a CONNACK [MQTT-3.2.2-6].
        Row(code: .unsupportedProtocolVersion, version: .v3_1_1, afterConnect: false, expected: .connAck(0x84)),
        Row(code: .unsupportedProtocolVersion, version: .v3_1, afterConnect: false, expected: .connAck(0x84)),
        Row(code: .clientIdentifierNotValid, version: .v3_1_1, afterConnect: false, expected: .connAck(0x85)),
        Row(code: .clientIdentifierNotValid, version: .v3_1, afterConnect: false, expected: .connAck(0x85)),
        Row(code: .malformedPacket, version: .v3_1_1, afterConnect: false, expected: .close),
        Row(code: .protocolError, version: .v3_1_1, afterConnect: false, expected: .close),
        Row(code: .packetTooLarge, version: .v3_1, afterConnect: false, expected: .close),
        // v3 after CONNECT: there is no DISCONNECT from the server, only a close.
        Row(code: .malformedPacket, version: .v3_1_1, afterConnect: true, expected: .close),
        Row(code: .clientIdentifierNotValid, version: .v3_1_1, afterConnect: true, expected: .close),
        Row(code: .unsupportedProtocolVersion, version: .v3_1, afterConnect: true, expected: .close),
    ]

    @Test("which packet each error becomes", arguments: rows)
    func response(row: Row) {
        let error = MQTTProtocolError(row.code, "test")
        let packet = error.response(version: row.version, afterConnect: row.afterConnect)
        switch (row.expected, packet) {
        case (.close, nil): break
        case (.connAck(let code), .connAck(let ack)?):
            #expect(ack.reasonCode.rawValue == code)
            #expect(!ack.sessionPresent)  // [MQTT-3.2.2-6]
            #expect(ack.properties.isEmpty)
        case (.disconnect(let code), .disconnect(let disconnect)?):
            #expect(disconnect.reasonCode.rawValue == code)
        default:
            Issue.record("expected \(row.expected), got \(String(describing: packet))")
        }
    }

    /// On the wire a v3 CONNACK carries a return code, not the v5 reason code.
    @Test(
        "v3 CONNACK return codes on the wire",
        arguments: [
            (MQTTProtocolError.Code.unsupportedProtocolVersion, [UInt8]([0x20, 0x02, 0x00, 0x01])),
            (.clientIdentifierNotValid, [0x20, 0x02, 0x00, 0x02]),
        ])
    func v3ConnAckBytes(code: MQTTProtocolError.Code, bytes: [UInt8]) throws {
        let packet = try #require(MQTTProtocolError(code, "test").response(version: .v3_1_1, afterConnect: false))
        #expect(encoded(packet, .v3_1_1) == bytes)
    }

    /// From bytes to response: what a server would send for a few bad first packets.
    @Test("decoder errors carry the version the response needs")
    func endToEnd() throws {
        func firstError(_ bytes: [UInt8]) -> MQTTProtocolError? {
            var decoder = MQTTPacketDecoder(role: .server)
            var input = buffer(bytes)
            return protocolError { () throws(MQTTProtocolError) in _ = try decoder.decodeNext(&input) }
        }
        // v3.1.1 CONNECT with a reserved flag: close without CONNACK.
        let reserved = try #require(firstError(Raw.connect(flags: 0x03)))
        #expect(reserved.version == .v3_1_1)
        #expect(reserved.response(version: reserved.version, afterConnect: false) == nil)
        // v5 CONNECT with Receive Maximum 0: CONNACK 0x82.
        let v5 = try #require(firstError(Raw.connect(level: 5, properties: propertyBlock(hex("21 00 00")))))
        #expect(
            v5.response(version: v5.version, afterConnect: false)
                == .connAck(.init(sessionPresent: false, reasonCode: .protocolError)))
        // "MQTT" level 3: CONNACK return code 1 in 3.1.1 form.
        let level = try #require(firstError(Raw.connect(level: 3)))
        let ack = try #require(level.response(version: level.version, afterConnect: false))
        #expect(encoded(ack, try #require(level.version)) == hex("20 02 00 01"))
        // Not CONNECT at all: just close.
        let notConnect = try #require(firstError(hex("c0 00")))
        #expect(notConnect.response(version: notConnect.version, afterConnect: false) == nil)
    }

    @Test("each error code maps to the reason code of the same name")
    func reasonCodes() {
        let table: [(MQTTProtocolError.Code, UInt8)] = [
            (.malformedPacket, 0x81), (.protocolError, 0x82), (.implementationSpecificError, 0x83),
            (.unsupportedProtocolVersion, 0x84), (.clientIdentifierNotValid, 0x85), (.keepAliveTimeout, 0x8D),
            (.topicFilterInvalid, 0x8F), (.topicNameInvalid, 0x90), (.receiveMaximumExceeded, 0x93),
            (.topicAliasInvalid, 0x94), (.packetTooLarge, 0x95), (.payloadFormatInvalid, 0x99),
        ]
        for (code, raw) in table {
            #expect(code.reasonCode.rawValue == raw, "\(code)")
            #expect(MQTTReasonCode.allDefined.contains(code.reasonCode))
        }
    }
}
