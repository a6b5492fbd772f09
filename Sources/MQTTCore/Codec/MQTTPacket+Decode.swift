import NIOCore

extension MQTTPacket {
    /// Decodes one packet body. `firstByte` is the fixed header's type-and-flags byte; `body` holds exactly the
    /// remaining length. CONNECT is decoded whatever `version` says (it announces its own).
    public static func decode(
        firstByte: UInt8, body: inout ByteBuffer, version: MQTTProtocolVersion
    ) throws(MQTTProtocolError) -> MQTTPacket {
        let flags = firstByte & 0x0F
        guard let kind = Kind(rawValue: firstByte >> 4) else { throw .malformed("reserved packet type") }
        // Fixed header flags [MQTT-2.1.3-1]: PUBREL, SUBSCRIBE and UNSUBSCRIBE carry 0b0010, PUBLISH its own flags.
        switch kind {
        case .publish: break
        case .pubRel, .subscribe, .unsubscribe: guard flags == 0b0010 else { throw .malformed("invalid header flags") }
        default: guard flags == 0 else { throw .malformed("invalid header flags") }
        }
        let packet: MQTTPacket
        switch kind {
        case .connect: return .connect(try decodeConnect(&body))
        case .connAck: packet = .connAck(try decodeConnAck(&body, version))
        case .publish: packet = .publish(try decodePublish(flags: flags, &body, version))
        case .pubAck: packet = .pubAck(try decodePubAck(&body, version, .pubAck))
        case .pubRec: packet = .pubRec(try decodePubAck(&body, version, .pubRec))
        case .pubRel: packet = .pubRel(try decodePubAck(&body, version, .pubRel))
        case .pubComp: packet = .pubComp(try decodePubAck(&body, version, .pubComp))
        case .subscribe: packet = .subscribe(try decodeSubscribe(&body, version))
        case .subAck: packet = .subAck(try decodeSubAck(&body, version))
        case .unsubscribe: packet = .unsubscribe(try decodeUnsubscribe(&body, version))
        case .unsubAck: packet = .unsubAck(try decodeUnsubAck(&body, version))
        case .pingReq: packet = .pingReq
        case .pingResp: packet = .pingResp
        case .disconnect: packet = .disconnect(try decodeDisconnect(&body, version))
        case .auth:
            guard version == .v5 else { throw .malformed("AUTH before MQTT 5") }
            packet = .auth(try decodeAuth(&body))
        }
        guard body.readableBytes == 0 else { throw .malformed("trailing bytes in packet") }
        return packet
    }

    static func decodeConnect(_ b: inout ByteBuffer) throws(MQTTProtocolError) -> Connect {
        let name = try b.readMQTTString("protocol name")
        let level = try b.readMQTTByte("protocol level")
        guard name == "MQTT" || name == "MQIsdp" else { throw .protocolViolation("unknown protocol name") }
        guard let version = MQTTProtocolVersion(rawValue: level), version.protocolName == name else {
            // A known name with an unknown level gets CONNACK 0x01 / 0x84 [MQTT-3.1.2-2].
            throw MQTTProtocolError(
                .unsupportedProtocolVersion, "unsupported protocol level", version: level > 5 ? .v5 : .v3_1_1)
        }
        do {
            return try decodeConnectBody(&b, version)
        } catch {
            var tagged = error
            tagged.version = version
            throw tagged
        }
    }

    private static func decodeConnectBody(
        _ b: inout ByteBuffer, _ version: MQTTProtocolVersion
    ) throws(MQTTProtocolError) -> Connect {
        let flags = try b.readMQTTByte("connect flags")
        guard flags & 0x01 == 0 else { throw .malformed("reserved connect flag set") }  // [MQTT-3.1.2-3]
        let hasUsername = flags & 0x80 != 0
        let hasPassword = flags & 0x40 != 0
        let willRetain = flags & 0x20 != 0
        let willQoSBits = (flags >> 3) & 0x03
        let hasWill = flags & 0x04 != 0
        let cleanStart = flags & 0x02 != 0
        guard let willQoS = MQTTQoS(rawValue: willQoSBits) else { throw .malformed("will qos 3") }  // [MQTT-3.1.2-14]
        if !hasWill, willQoSBits != 0 || willRetain {
            throw .malformed("will flags without will")  // [MQTT-3.1.2-11] [MQTT-3.1.2-13] [MQTT-3.1.2-15]
        }
        if version != .v5, hasPassword, !hasUsername {
            throw .malformed("password without username")  // [MQTT-3.1.2-22]
        }
        let keepAlive = try b.readMQTTUInt16("keep alive")
        let properties = version == .v5 ? try MQTTProperties.read(from: &b, context: .connect) : MQTTProperties()
        let clientID = try b.readMQTTString("client identifier")
        var will: Will?
        if hasWill {
            let willProps = version == .v5 ? try MQTTProperties.read(from: &b, context: .will) : MQTTProperties()
            let topic = try TopicName(validating: try b.readMQTTString("will topic"))
            let payload = try b.readMQTTBinary("will payload")
            will = Will(topic: topic, payload: payload, qos: willQoS, retain: willRetain, properties: willProps)
        }
        let username = hasUsername ? try b.readMQTTString("user name") : nil
        let password = hasPassword ? try b.readMQTTBinary("password") : nil
        guard b.readableBytes == 0 else { throw .malformed("trailing bytes in CONNECT") }
        return Connect(
            version: version, clientID: clientID, cleanStart: cleanStart, keepAlive: keepAlive, username: username,
            password: password, will: will, properties: properties)
    }

    private static func decodeConnAck(_ b: inout ByteBuffer, _ v: MQTTProtocolVersion) throws(MQTTProtocolError)
        -> ConnAck
    {
        let ackFlags = try b.readMQTTByte("connack flags")
        guard ackFlags & 0xFE == 0 else { throw .malformed("reserved connack flags") }
        let code = try b.readMQTTByte("connect reason code")
        let reason = v == .v5 ? MQTTReasonCode(rawValue: code) : .fromV3ConnectReturnCode(code)
        let props = v == .v5 ? try MQTTProperties.read(from: &b, context: .connAck) : MQTTProperties()
        return ConnAck(sessionPresent: ackFlags & 1 == 1, reasonCode: reason, properties: props)
    }

    private static func readPacketID(_ b: inout ByteBuffer) throws(MQTTProtocolError) -> PacketID {
        guard let id = PacketID(rawValue: try b.readMQTTUInt16("packet identifier")) else {
            throw .malformed("packet identifier 0")  // [MQTT-2.2.1-3]
        }
        return id
    }

    private static func decodePublish(flags: UInt8, _ b: inout ByteBuffer, _ v: MQTTProtocolVersion)
        throws(MQTTProtocolError) -> Publish
    {
        guard let qos = MQTTQoS(rawValue: (flags >> 1) & 0x03) else { throw .malformed("publish qos 3") }  // [MQTT-3.3.1-4]
        let dup = flags & 0x08 != 0
        guard !(dup && qos == .atMostOnce) else { throw .malformed("dup set on qos 0") }  // [MQTT-3.3.1-2]
        let rawTopic = try b.readMQTTString("topic name")
        let packetID = qos == .atMostOnce ? nil : try readPacketID(&b)
        let props = v == .v5 ? try MQTTProperties.read(from: &b, context: .publish) : MQTTProperties()
        var topic: TopicName?
        if rawTopic.isEmpty {
            guard v == .v5 else { throw MQTTProtocolError(.topicNameInvalid, "empty topic name") }  // [MQTT-4.7.3-1]
            // "It is a Protocol Error if the Topic Name is zero length and there is no Topic Alias" (3.3.2.3.4).
            guard props.topicAlias != nil else { throw .protocolViolation("empty topic name without topic alias") }
        } else {
            topic = try TopicName(validating: rawTopic)
        }
        let payload = b.readSlice(length: b.readableBytes)!
        return Publish(
            topic: topic, payload: payload, qos: qos, retain: flags & 0x01 != 0, dup: dup, packetID: packetID,
            properties: props)
    }

    private static func decodePubAck(
        _ b: inout ByteBuffer, _ v: MQTTProtocolVersion, _ context: MQTTPropertyContext
    ) throws(MQTTProtocolError) -> PubAck {
        let id = try readPacketID(&b)
        guard v == .v5, b.readableBytes > 0 else { return PubAck(packetID: id) }
        let code = MQTTReasonCode(rawValue: try b.readMQTTByte("reason code"))
        let props = b.readableBytes > 0 ? try MQTTProperties.read(from: &b, context: context) : MQTTProperties()
        return PubAck(packetID: id, reasonCode: code, properties: props)
    }

    private static func decodeSubscribe(_ b: inout ByteBuffer, _ v: MQTTProtocolVersion) throws(MQTTProtocolError)
        -> Subscribe
    {
        let id = try readPacketID(&b)
        let props = v == .v5 ? try MQTTProperties.read(from: &b, context: .subscribe) : MQTTProperties()
        var subscriptions: [Subscription] = []
        while b.readableBytes > 0 {
            let filter = try TopicFilter(validating: try b.readMQTTString("topic filter"))
            let options = try b.readMQTTByte("subscription options")
            guard let qos = MQTTQoS(rawValue: options & 0x03) else { throw .malformed("subscription qos 3") }
            if v == .v5 {
                guard options & 0xC0 == 0 else { throw .malformed("reserved subscription option bits") }
                guard let handling = RetainHandling(rawValue: (options >> 4) & 0x03) else {
                    throw .protocolViolation("retain handling 3")
                }
                let noLocal = options & 0x04 != 0
                if noLocal, filter.isShared { throw .protocolViolation("no local on shared subscription") }  // [MQTT-3.8.3-4]
                subscriptions.append(
                    Subscription(
                        filter: filter,
                        options: .init(
                            qos: qos, noLocal: noLocal, retainAsPublished: options & 0x08 != 0,
                            retainHandling: handling)))
            } else {
                guard options & 0xFC == 0 else { throw .malformed("reserved subscription option bits") }  // [MQTT-3.8.3-4]
                subscriptions.append(Subscription(filter: filter, options: .init(qos: qos)))
            }
        }
        guard !subscriptions.isEmpty else { throw .protocolViolation("SUBSCRIBE without topic filters") }  // [MQTT-3.8.3-3]
        return Subscribe(packetID: id, subscriptions: subscriptions, properties: props)
    }

    private static func decodeSubAck(_ b: inout ByteBuffer, _ v: MQTTProtocolVersion) throws(MQTTProtocolError)
        -> SubAck
    {
        let id = try readPacketID(&b)
        let props = v == .v5 ? try MQTTProperties.read(from: &b, context: .subAck) : MQTTProperties()
        var codes: [MQTTReasonCode] = []
        while b.readableBytes > 0 {
            let code = try b.readMQTTByte("reason code")
            // 3.1.1 defines only 0x00-0x02 and 0x80 [MQTT-3.9.3-2]; anything else would not survive re-encoding.
            if v != .v5, code > 0x02, code != 0x80 { throw .malformed("reserved SUBACK return code") }
            codes.append(MQTTReasonCode(rawValue: code))
        }
        return SubAck(packetID: id, reasonCodes: codes, properties: props)
    }

    private static func decodeUnsubscribe(_ b: inout ByteBuffer, _ v: MQTTProtocolVersion) throws(MQTTProtocolError)
        -> Unsubscribe
    {
        let id = try readPacketID(&b)
        let props = v == .v5 ? try MQTTProperties.read(from: &b, context: .unsubscribe) : MQTTProperties()
        var filters: [TopicFilter] = []
        while b.readableBytes > 0 { filters.append(try TopicFilter(validating: try b.readMQTTString("topic filter"))) }
        guard !filters.isEmpty else { throw .protocolViolation("UNSUBSCRIBE without topic filters") }  // [MQTT-3.10.3-2]
        return Unsubscribe(packetID: id, filters: filters, properties: props)
    }

    private static func decodeUnsubAck(_ b: inout ByteBuffer, _ v: MQTTProtocolVersion) throws(MQTTProtocolError)
        -> UnsubAck
    {
        let id = try readPacketID(&b)
        guard v == .v5 else { return UnsubAck(packetID: id) }
        let props = try MQTTProperties.read(from: &b, context: .unsubAck)
        var codes: [MQTTReasonCode] = []
        while b.readableBytes > 0 { codes.append(MQTTReasonCode(rawValue: try b.readMQTTByte("reason code"))) }
        return UnsubAck(packetID: id, reasonCodes: codes, properties: props)
    }

    private static func decodeDisconnect(_ b: inout ByteBuffer, _ v: MQTTProtocolVersion) throws(MQTTProtocolError)
        -> Disconnect
    {
        guard v == .v5, b.readableBytes > 0 else { return Disconnect() }
        let code = MQTTReasonCode(rawValue: try b.readMQTTByte("reason code"))
        let props = b.readableBytes > 0 ? try MQTTProperties.read(from: &b, context: .disconnect) : MQTTProperties()
        return Disconnect(reasonCode: code, properties: props)
    }

    private static func decodeAuth(_ b: inout ByteBuffer) throws(MQTTProtocolError) -> Auth {
        guard b.readableBytes > 0 else { return Auth() }
        let code = MQTTReasonCode(rawValue: try b.readMQTTByte("reason code"))
        let props = b.readableBytes > 0 ? try MQTTProperties.read(from: &b, context: .auth) : MQTTProperties()
        return Auth(reasonCode: code, properties: props)
    }
}
