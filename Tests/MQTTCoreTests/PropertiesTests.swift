import NIOCore
import Testing

@testable import MQTTCore

/// The MQTT 5 property block: which property goes where, wire format, repetition and value rules.
@Suite("Properties")
struct PropertiesTests {
    /// Reads a property block given as raw properties (the length is prepended here).
    static func read(_ raw: [UInt8], _ context: MQTTPropertyContext) throws(MQTTProtocolError) -> MQTTProperties {
        var input = buffer(lengthPrefix(raw) + raw)
        let props = try MQTTProperties.read(from: &input, context: context)
        #expect(input.readableBytes == 0)
        return props
    }

    static func written(_ props: MQTTProperties) -> [UInt8] {
        var out = ByteBuffer()
        props.write(to: &out)
        return Array(out.readableBytesView)
    }

    /// The properties of a written block, without its length prefix.
    static func raw(_ props: MQTTProperties) -> [UInt8] {
        var out = ByteBuffer()
        props.write(to: &out)
        _ = try? out.readVariableByteInteger()
        return Array(out.readableBytesView)
    }

    /// Each property's wire form, written by hand from section 2.2.2.2 and 1.5.
    static let wireForms: [(MQTTPropertyID, String)] = [
        (.payloadFormatIndicator, "01 01"),
        (.messageExpiryInterval, "02 00 00 0e 10"),
        (
            .contentType,
            "03 00 1f 61 70 70 6c 69 63 61 74 69 6f 6e 2f 6a 73 6f 6e 3b 20 63 68 61 72 73 65 74 3d 75 74 66 2d 38"
        ),
        (.responseTopic, "08 00 10 72 65 70 6c 69 65 73 2f 63 6c 69 65 6e 74 2d 31"),
        (.correlationData, "09 00 04 00 01 fe ff"),
        (.subscriptionIdentifier, "0b 2a"),
        (.sessionExpiryInterval, "11 ff ff ff ff"),
        (.assignedClientIdentifier, "12 00 09 61 75 74 6f 2d 37 46 33 41"),
        (.serverKeepAlive, "13 00 78"),
        (.authenticationMethod, "15 00 0d 53 43 52 41 4d 2d 53 48 41 2d 32 35 36"),
        (.authenticationData, "16 00 04 6e 2c 2c 00"),
        (.requestProblemInformation, "17 00"),
        (.willDelayInterval, "18 00 00 00 1e"),
        (.requestResponseInformation, "19 01"),
        (.responseInformation, "1a 00 08 72 65 70 6c 69 65 73 2f"),
        (.serverReference, "1c 00 13 6e 6f 64 65 2d 32 2e 65 78 61 6d 70 6c 65 3a 31 38 38 33"),
        (.reasonString, "1f 00 0b 62 65 63 61 75 73 65 20 e2 9c 93"),
        (.receiveMaximum, "21 ff ff"),
        (.topicAliasMaximum, "22 00 0a"),
        (.topicAlias, "23 00 07"),
        (.maximumQoS, "24 01"),
        (.retainAvailable, "25 00"),
        (.maximumPacketSize, "27 00 10 00 00"),
        (.wildcardSubscriptionAvailable, "28 01"),
        (.subscriptionIdentifierAvailable, "29 00"),
        (.sharedSubscriptionAvailable, "2a 01"),
    ]

    @Test("MQTTPropertyContext.allows matches Table 2-4 for every property and packet")
    func allowedTable() {
        for id in MQTTPropertyID.allCases {
            for context in SpecTable.allContexts {
                #expect(context.allows(id) == SpecTable.allowed[id]!.contains(context), "\(id) in \(context)")
            }
        }
    }

    @Test("each property is read where allowed and refused as malformed elsewhere", arguments: MQTTPropertyID.allCases)
    func readWhereAllowed(id: MQTTPropertyID) throws {
        for context in SpecTable.allContexts {
            var props = MQTTProperties()
            props.setSample(id, context: .subscribe)  // one subscription identifier, legal everywhere it is allowed
            let raw = Self.raw(props)
            if SpecTable.allowed[id]!.contains(context) {
                #expect(try Self.read(raw, context) == props, "\(id) in \(context)")
            } else {
                let error = protocolError { () throws(MQTTProtocolError) in _ = try Self.read(raw, context) }
                #expect(error?.code == .malformedPacket, "\(id) in \(context)")
            }
        }
    }

    @Test("each property's bytes on the wire", arguments: wireForms)
    func wireForm(id: MQTTPropertyID, wire: String) throws {
        var props = MQTTProperties()
        props.setSample(id, context: .subscribe)
        let raw = hex(wire)
        #expect(Self.written(props) == Self.lengthPrefix(raw) + raw)
        let context = SpecTable.allContexts.first { SpecTable.allowed[id]!.contains($0) }!
        #expect(try Self.read(raw, context) == props)
    }

    static func lengthPrefix(_ raw: [UInt8]) -> [UInt8] {
        var length = ByteBuffer()
        length.writeVariableByteInteger(raw.count)
        return Array(length.readableBytesView)
    }

    @Test("user properties on the wire: name then value, one identifier per pair")
    func userPropertyWire() {
        var props = MQTTProperties()
        props.userProperties = [.init("k", "v"), .init("k", "w")]
        #expect(Self.written(props) == hex("0e 26 00 01 6b 00 01 76 26 00 01 6b 00 01 77"))
    }

    @Test("an empty block is one zero byte [MQTT-2.2.2-1]")
    func emptyBlock() throws {
        #expect(Self.written(MQTTProperties()) == [0])
        #expect(try Self.read([], .publish).isEmpty)
    }

    @Test("user properties keep order and duplicates [MQTT-3.3.2-18]")
    func userPropertiesOrder() throws {
        let raw =
            [0x26] + mqttString("k") + mqttString("2") + hex("02 00 00 00 05") + [0x26] + mqttString("k")
            + mqttString("1") + [0x26] + mqttString("a") + mqttString("")
        let props = try Self.read(raw, .publish)
        #expect(props.userProperties == [.init("k", "2"), .init("k", "1"), .init("a", "")])
        #expect(props.messageExpiryInterval == 5)
    }

    @Test("PUBLISH may repeat Subscription Identifier; SUBSCRIBE may not")
    func subscriptionIdentifierRepetition() throws {
        let raw = hex("0b 01 0b ff ff ff 7f 0b 80 01")
        #expect(try Self.read(raw, .publish).subscriptionIdentifiers == [1, 268_435_455, 128])
        let error = protocolError { () throws(MQTTProtocolError) in _ = try Self.read(raw, .subscribe) }
        #expect(error?.code == .protocolError)
    }

    @Test(
        "every single-valued property is a protocol error when repeated",
        arguments: MQTTPropertyID.allCases.filter { $0 != .userProperty })
    func duplicates(id: MQTTPropertyID) throws {
        var props = MQTTProperties()
        props.setSample(id, context: .subscribe)
        let once = Self.raw(props)
        let context = SpecTable.allContexts.first {
            SpecTable.allowed[id]!.contains($0) && !(id == .subscriptionIdentifier && $0 == .publish)
        }!
        let error = protocolError { () throws(MQTTProtocolError) in _ = try Self.read(once + once, context) }
        #expect(error?.code == .protocolError)
        #expect(error?.reason.contains("duplicate") == true)
    }

    /// Value rules: flags are 0 or 1, some values may not be 0.
    @Test(
        "out-of-range values",
        arguments: [
            ("01 02", MQTTPropertyContext.publish, MQTTProtocolError.Code.protocolError),
            ("17 02", .connect, .protocolError),
            ("19 02", .connect, .protocolError),
            ("24 02", .connAck, .protocolError),
            ("25 02", .connAck, .protocolError),
            ("28 02", .connAck, .protocolError),
            ("29 ff", .connAck, .protocolError),
            ("2a 02", .connAck, .protocolError),
            ("21 00 00", .connect, .protocolError),
            ("21 00 00", .connAck, .protocolError),
            ("27 00 00 00 00", .connAck, .protocolError),
            ("0b 00", .subscribe, .protocolError),
            ("23 00 00", .publish, .topicAliasInvalid),
            ("08 00 01 23", .publish, .topicNameInvalid),
            ("08 00 00", .publish, .topicNameInvalid),
        ])
    func outOfRange(wire: String, context: MQTTPropertyContext, code: MQTTProtocolError.Code) {
        let error = protocolError { () throws(MQTTProtocolError) in _ = try Self.read(hex(wire), context) }
        #expect(error?.code == code)
    }

    @Test("values at the edges of their range are accepted")
    func edgeValues() throws {
        let props = try Self.read(hex("22 00 00 13 00 00 11 00 00 00 00"), .connAck)
        #expect(props.topicAliasMaximum == 0)  // 0 means no aliases, which is allowed
        #expect(props.serverKeepAlive == 0)
        #expect(props.sessionExpiryInterval == 0)
        #expect(try Self.read(hex("23 ff ff 02 ff ff ff ff"), .publish).topicAlias == 65_535)
    }

    @Test(
        "truncated blocks are malformed",
        arguments: ["02 00 00", "26 00 01 61", "0b 80", "03 00 05 61", "09 00", "85"])
    func truncated(wire: String) {
        let error = protocolError { () throws(MQTTProtocolError) in _ = try Self.read(hex(wire), .publish) }
        #expect(error?.code == .malformedPacket)
    }

    @Test("a block whose declared length runs past the buffer is malformed")
    func lengthPastEnd() {
        var input = buffer(hex("05 01 01"))
        let error = protocolError { () throws(MQTTProtocolError) in
            _ = try MQTTProperties.read(from: &input, context: .publish)
        }
        #expect(error?.code == .malformedPacket)
    }

    @Test("presentIDs lists each present property once, in identifier order")
    func presentIDs() {
        var props = Fixtures.fullProperties(.publish)
        #expect(
            props.presentIDs == [
                .payloadFormatIndicator, .messageExpiryInterval, .contentType, .responseTopic, .correlationData,
                .subscriptionIdentifier, .topicAlias, .userProperty,
            ])
        props = MQTTProperties()
        #expect(props.presentIDs.isEmpty && props.isEmpty)
    }
}
