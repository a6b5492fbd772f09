import NIOCore
import Testing

@testable import MQTTCore

// MARK: - Byte helpers

/// Parses hex such as "10 0d 00 04" (whitespace ignored). Traps on a typo: fixtures are programmer input.
func hex(_ text: String) -> [UInt8] {
    let digits = text.filter { !$0.isWhitespace }
    precondition(digits.count.isMultiple(of: 2), "odd hex fixture")
    var bytes: [UInt8] = []
    var index = digits.startIndex
    while index < digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        bytes.append(UInt8(digits[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

/// The bytes of a string as UTF-8, for building packets by hand.
func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A UTF-8 Encoded String as MQTT puts it on the wire: a big-endian length, then the bytes.
func mqttString(_ text: String) -> [UInt8] { mqttBinary(utf8(text)) }

func mqttBinary(_ bytes: [UInt8]) -> [UInt8] { [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes }

/// A whole packet: first byte, remaining length (1-4 bytes), body.
func packet(_ firstByte: UInt8, _ body: [UInt8]) -> [UInt8] {
    var length = body.count
    var header = [firstByte]
    repeat {
        var byte = UInt8(length % 128)
        length /= 128
        if length > 0 { byte |= 0x80 }
        header.append(byte)
    } while length > 0
    return header + body
}

/// A property block: its length (one byte is enough for fixtures), then the raw properties.
func propertyBlock(_ raw: [UInt8]) -> [UInt8] {
    precondition(raw.count < 128, "fixture property block too long for a one-byte length")
    return [UInt8(raw.count)] + raw
}

func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }
func buffer(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

func encoded(_ packet: MQTTPacket, _ version: MQTTProtocolVersion) -> [UInt8] {
    var out = ByteBuffer()
    packet.encode(version: version, into: &out)
    return Array(out.readableBytesView)
}

/// Decodes `bytes` with a decoder in client role speaking `version` and requires exactly one whole packet.
func decodeExactlyOne(_ bytes: [UInt8], version: MQTTProtocolVersion) throws -> MQTTPacket {
    var decoder = MQTTPacketDecoder(role: .client, version: version)
    var input = buffer(bytes)
    let packet = try #require(try decoder.decodeNext(&input), "incomplete packet")
    #expect(input.readableBytes == 0, "bytes left over after one packet")
    return packet
}

/// Runs `body` and returns the `MQTTProtocolError` it throws, or nil when it does not throw.
func protocolError(_ body: () throws(MQTTProtocolError) -> Void) -> MQTTProtocolError? {
    do {
        try body()
        return nil
    } catch {
        return error
    }
}

/// Properties built in place: `props { $0.topicAlias = 3 }`.
func props(_ build: (inout MQTTProperties) -> Void) -> MQTTProperties {
    var properties = MQTTProperties()
    build(&properties)
    return properties
}

// MARK: - Table rows

/// One round-trip row: encoding `packet` and decoding it must give `expected` (the packet as that version can
/// carry it: v3 drops properties and v5-only reason codes).
struct RoundTripCase: Sendable, CustomTestStringConvertible {
    let name: String
    let packet: MQTTPacket
    let expected: MQTTPacket

    init(_ name: String, _ packet: MQTTPacket, expected: MQTTPacket? = nil) {
        self.name = name
        self.packet = packet
        self.expected = expected ?? packet
    }

    var testDescription: String { name }
}

// MARK: - Packet builders

enum Fixtures {
    static let topic: TopicName = "sensors/kitchen/temp"

    static func payload(_ count: Int) -> ByteBuffer {
        ByteBuffer(bytes: (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
    }

    static let userProperties = [
        MQTTUserProperty("region", "eu"),
        MQTTUserProperty("region", "us"),  // a repeated name is legal and order matters [MQTT-3.3.2-18]
        MQTTUserProperty("ключ", "значение ✓"),
        MQTTUserProperty("", ""),
    ]

    /// Every property the spec (Table 2-4) allows in `context`, each with a non-default value. Written from the
    /// spec rather than from `MQTTPropertyContext.allows` so the fixtures do not inherit a bug in that table.
    static func fullProperties(_ context: MQTTPropertyContext) -> MQTTProperties {
        var p = MQTTProperties()
        for id in MQTTPropertyID.allCases where SpecTable.allowed[id]!.contains(context) {
            p.setSample(id, context: context)
        }
        return p
    }

    static let fullWill = MQTTPacket.Will(
        topic: "clients/c1/status", payload: buffer("offline"), qos: .exactlyOnce, retain: true,
        properties: fullProperties(.will))

    static func connect(_ version: MQTTProtocolVersion, clientID: String = "client-1") -> MQTTPacket {
        .connect(.init(version: version, clientID: clientID))
    }

    static func fullConnect(_ version: MQTTProtocolVersion) -> MQTTPacket.Connect {
        .init(
            version: version, clientID: "full-client", cleanStart: false, keepAlive: 65_535, username: "alice",
            password: buffer([0x00, 0xFF, 0x10]), will: fullWill,
            properties: version == .v5 ? fullProperties(.connect) : .init())
    }

    static func publish(
        _ qos: MQTTQoS, id: UInt16? = nil, retain: Bool = false, dup: Bool = false,
        payload: ByteBuffer = buffer("21.5"),
        properties: MQTTProperties = .init()
    ) -> MQTTPacket {
        .publish(
            .init(
                topic: topic, payload: payload, qos: qos, retain: retain, dup: dup,
                packetID: id.flatMap(PacketID.init(rawValue:)), properties: properties))
    }

    static func ack(_ id: UInt16, _ code: MQTTReasonCode = .success, _ props: MQTTProperties = .init())
        -> MQTTPacket.PubAck
    {
        .init(packetID: PacketID(rawValue: id)!, reasonCode: code, properties: props)
    }

    static func pid(_ raw: UInt16) -> PacketID { PacketID(rawValue: raw)! }

    /// Subscriptions covering every option combination v5 can carry.
    static let v5Subscriptions: [MQTTPacket.Subscription] = [
        .init(filter: "a/b", options: .init(qos: .atMostOnce)),
        .init(filter: "a/+/c", options: .init(qos: .atLeastOnce, noLocal: true)),
        .init(filter: "#", options: .init(qos: .exactlyOnce, retainAsPublished: true)),
        .init(filter: "$SYS/#", options: .init(qos: .atLeastOnce, retainHandling: .sendOnNewSubscribe)),
        .init(
            filter: "x/y",
            options: .init(
                qos: .exactlyOnce, noLocal: true, retainAsPublished: true,
                retainHandling: .doNotSend)),
        .init(filter: "$share/workers/jobs/+", options: .init(qos: .atLeastOnce, retainHandling: .doNotSend)),
        .init(filter: "$queue/jobs/#", options: .init(qos: .atMostOnce)),
    ]

    /// What v3.1.1 keeps of `v5Subscriptions`: only the QoS.
    static let v3Subscriptions: [MQTTPacket.Subscription] = v5Subscriptions.map {
        .init(filter: $0.filter, options: .init(qos: $0.options.qos))
    }

    /// A plausible session after CONNECT, used by the streaming tests.
    static func session(_ version: MQTTProtocolVersion) -> [MQTTPacket] {
        let v5 = version == .v5
        var props = MQTTProperties()
        if v5 {
            props.userProperties = userProperties
            props.subscriptionIdentifiers = [1, 300]
        }
        return [
            connect(version),
            .subscribe(.init(packetID: pid(1), subscriptions: v5 ? v5Subscriptions : v3Subscriptions)),
            publish(.atMostOnce, payload: .init()),
            publish(.atLeastOnce, id: 2, retain: true, properties: props),
            publish(.exactlyOnce, id: 3, dup: true, payload: payload(300)),
            .pubAck(ack(7)),
            .pubRec(ack(3)),
            .pubRel(ack(3)),
            .pubComp(ack(3)),
            .pingReq,
            .unsubscribe(.init(packetID: pid(4), filters: ["a/b", "$share/workers/jobs/+"])),
            .disconnect(.init()),
        ]
    }
}

// MARK: - The spec's property table

/// MQTT 5 Table 2-4, transcribed: which packets (and the will) each property may appear in.
enum SpecTable {
    static let acks: Set<MQTTPropertyContext> = [.pubAck, .pubRec, .pubRel, .pubComp]
    static let allContexts: [MQTTPropertyContext] = [
        .connect, .will, .connAck, .publish, .pubAck, .pubRec, .pubRel, .pubComp, .subscribe, .subAck, .unsubscribe,
        .unsubAck, .disconnect, .auth,
    ]
    static let allowed: [MQTTPropertyID: Set<MQTTPropertyContext>] = [
        .payloadFormatIndicator: [.publish, .will],
        .messageExpiryInterval: [.publish, .will],
        .contentType: [.publish, .will],
        .responseTopic: [.publish, .will],
        .correlationData: [.publish, .will],
        .subscriptionIdentifier: [.publish, .subscribe],
        .sessionExpiryInterval: [.connect, .connAck, .disconnect],
        .assignedClientIdentifier: [.connAck],
        .serverKeepAlive: [.connAck],
        .authenticationMethod: [.connect, .connAck, .auth],
        .authenticationData: [.connect, .connAck, .auth],
        .requestProblemInformation: [.connect],
        .willDelayInterval: [.will],
        .requestResponseInformation: [.connect],
        .responseInformation: [.connAck],
        .serverReference: [.connAck, .disconnect],
        .reasonString: acks.union([.connAck, .subAck, .unsubAck, .disconnect, .auth]),
        .receiveMaximum: [.connect, .connAck],
        .topicAliasMaximum: [.connect, .connAck],
        .topicAlias: [.publish],
        .maximumQoS: [.connAck],
        .retainAvailable: [.connAck],
        .userProperty: Set(allContexts),
        .maximumPacketSize: [.connect, .connAck],
        .wildcardSubscriptionAvailable: [.connAck],
        .subscriptionIdentifierAvailable: [.connAck],
        .sharedSubscriptionAvailable: [.connAck],
    ]
}

extension MQTTProperties {
    /// Sets `id` to a non-default sample value. Subscription identifiers repeat in PUBLISH only.
    mutating func setSample(_ id: MQTTPropertyID, context: MQTTPropertyContext) {
        switch id {
        case .payloadFormatIndicator: payloadFormatIndicator = 1
        case .messageExpiryInterval: messageExpiryInterval = 3_600
        case .contentType: contentType = "application/json; charset=utf-8"
        case .responseTopic: responseTopic = "replies/client-1"
        case .correlationData: correlationData = ByteBuffer(bytes: [0x00, 0x01, 0xFE, 0xFF])
        case .subscriptionIdentifier:
            subscriptionIdentifiers = context == .publish ? [1, 127, 128, 16_384, 268_435_455] : [42]
        case .sessionExpiryInterval: sessionExpiryInterval = .max
        case .assignedClientIdentifier: assignedClientIdentifier = "auto-7F3A"
        case .serverKeepAlive: serverKeepAlive = 120
        case .authenticationMethod: authenticationMethod = "SCRAM-SHA-256"
        case .authenticationData: authenticationData = ByteBuffer(bytes: [0x6E, 0x2C, 0x2C, 0x00])
        case .requestProblemInformation: requestProblemInformation = 0
        case .willDelayInterval: willDelayInterval = 30
        case .requestResponseInformation: requestResponseInformation = 1
        case .responseInformation: responseInformation = "replies/"
        case .serverReference: serverReference = "node-2.example:1883"
        case .reasonString: reasonString = "because ✓"
        case .receiveMaximum: receiveMaximum = 65_535
        case .topicAliasMaximum: topicAliasMaximum = 10
        case .topicAlias: topicAlias = 7
        case .maximumQoS: maximumQoS = 1
        case .retainAvailable: retainAvailable = 0
        case .userProperty: userProperties = Fixtures.userProperties
        case .maximumPacketSize: maximumPacketSize = 1_048_576
        case .wildcardSubscriptionAvailable: wildcardSubscriptionAvailable = 1
        case .subscriptionIdentifierAvailable: subscriptionIdentifierAvailable = 0
        case .sharedSubscriptionAvailable: sharedSubscriptionAvailable = 1
        }
    }
}
