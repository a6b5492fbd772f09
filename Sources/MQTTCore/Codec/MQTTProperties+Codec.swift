import NIOCore

extension MQTTProperties {
    /// Reads a property block (length, then properties) and checks each one against `context` [MQTT-2.2.2-2],
    /// repetition rules and value ranges.
    static func read(from buffer: inout ByteBuffer, context: MQTTPropertyContext) throws(MQTTProtocolError)
        -> MQTTProperties
    {
        guard let length = try buffer.readVariableByteInteger() else { throw .malformed("truncated property length") }
        guard var block = buffer.readSlice(length: length) else { throw .malformed("truncated properties") }
        var props = MQTTProperties()
        var seen = Set<UInt8>()
        while block.readableBytes > 0 {
            guard let rawID = try block.readVariableByteInteger() else { throw .malformed("truncated property id") }
            guard rawID <= 0xFF, let id = MQTTPropertyID(rawValue: UInt8(rawID)) else {
                throw .malformed("unknown property identifier")
            }
            guard context.allows(id) else { throw .malformed("property not allowed in this packet") }
            if id != .userProperty, !(id == .subscriptionIdentifier && context == .publish) {
                guard seen.insert(id.rawValue).inserted else { throw .protocolViolation("duplicate property") }
            }
            try props.readValue(id, from: &block)
        }
        return props
    }

    private mutating func readValue(_ id: MQTTPropertyID, from b: inout ByteBuffer) throws(MQTTProtocolError) {
        func flag(_ what: StaticString) throws(MQTTProtocolError) -> UInt8 {
            let value = try b.readMQTTByte(what)
            guard value <= 1 else { throw .protocolViolation("property value must be 0 or 1") }
            return value
        }
        func nonZero16(_ what: StaticString) throws(MQTTProtocolError) -> UInt16 {
            let value = try b.readMQTTUInt16(what)
            guard value != 0 else { throw .protocolViolation("property value must not be 0") }
            return value
        }
        switch id {
        case .payloadFormatIndicator: payloadFormatIndicator = try flag("payload format indicator")
        case .messageExpiryInterval: messageExpiryInterval = try b.readMQTTUInt32("message expiry interval")
        case .contentType: contentType = try b.readMQTTString("content type")
        case .responseTopic:
            let topic = try b.readMQTTString("response topic")
            // The Response Topic is a topic name: no wildcards [MQTT-3.3.2-14].
            _ = try TopicName(validating: topic)
            responseTopic = topic
        case .correlationData: correlationData = try b.readMQTTBinary("correlation data")
        case .subscriptionIdentifier:
            guard let value = try b.readVariableByteInteger() else { throw .malformed("truncated subscription id") }
            guard value != 0 else { throw .protocolViolation("subscription identifier 0") }
            subscriptionIdentifiers.append(UInt32(value))
        case .sessionExpiryInterval: sessionExpiryInterval = try b.readMQTTUInt32("session expiry interval")
        case .assignedClientIdentifier: assignedClientIdentifier = try b.readMQTTString("assigned client id")
        case .serverKeepAlive: serverKeepAlive = try b.readMQTTUInt16("server keep alive")
        case .authenticationMethod: authenticationMethod = try b.readMQTTString("authentication method")
        case .authenticationData: authenticationData = try b.readMQTTBinary("authentication data")
        case .requestProblemInformation: requestProblemInformation = try flag("request problem information")
        case .willDelayInterval: willDelayInterval = try b.readMQTTUInt32("will delay interval")
        case .requestResponseInformation: requestResponseInformation = try flag("request response information")
        case .responseInformation: responseInformation = try b.readMQTTString("response information")
        case .serverReference: serverReference = try b.readMQTTString("server reference")
        case .reasonString: reasonString = try b.readMQTTString("reason string")
        case .receiveMaximum: receiveMaximum = try nonZero16("receive maximum")
        case .topicAliasMaximum: topicAliasMaximum = try b.readMQTTUInt16("topic alias maximum")
        case .topicAlias:
            // Alias 0 is a Topic Alias error (0x94), as mosquitto and EMQX answer it [MQTT-3.3.2-8].
            let value = try b.readMQTTUInt16("topic alias")
            guard value != 0 else { throw MQTTProtocolError(.topicAliasInvalid, "topic alias 0") }
            topicAlias = value
        case .maximumQoS: maximumQoS = try flag("maximum qos")
        case .retainAvailable: retainAvailable = try flag("retain available")
        case .userProperty:
            let name = try b.readMQTTString("user property name")
            let value = try b.readMQTTString("user property value")
            userProperties.append(MQTTUserProperty(name, value))
        case .maximumPacketSize:
            let value = try b.readMQTTUInt32("maximum packet size")
            guard value != 0 else { throw .protocolViolation("maximum packet size 0") }
            maximumPacketSize = value
        case .wildcardSubscriptionAvailable: wildcardSubscriptionAvailable = try flag("wildcard available")
        case .subscriptionIdentifierAvailable: subscriptionIdentifierAvailable = try flag("subscription id available")
        case .sharedSubscriptionAvailable: sharedSubscriptionAvailable = try flag("shared available")
        }
    }

    /// Writes the property block: its length, then each property present.
    func write(to buffer: inout ByteBuffer) {
        buffer.writeWithVariableLengthPrefix { b in
            func id(_ id: MQTTPropertyID) { b.writeInteger(id.rawValue) }
            if let v = payloadFormatIndicator { id(.payloadFormatIndicator); b.writeInteger(v) }
            if let v = messageExpiryInterval { id(.messageExpiryInterval); b.writeInteger(v) }
            if let v = contentType { id(.contentType); b.writeMQTTString(v) }
            if let v = responseTopic { id(.responseTopic); b.writeMQTTString(v) }
            if let v = correlationData { id(.correlationData); b.writeMQTTBinary(v) }
            for v in subscriptionIdentifiers { id(.subscriptionIdentifier); b.writeVariableByteInteger(Int(v)) }
            if let v = sessionExpiryInterval { id(.sessionExpiryInterval); b.writeInteger(v) }
            if let v = assignedClientIdentifier { id(.assignedClientIdentifier); b.writeMQTTString(v) }
            if let v = serverKeepAlive { id(.serverKeepAlive); b.writeInteger(v) }
            if let v = authenticationMethod { id(.authenticationMethod); b.writeMQTTString(v) }
            if let v = authenticationData { id(.authenticationData); b.writeMQTTBinary(v) }
            if let v = requestProblemInformation { id(.requestProblemInformation); b.writeInteger(v) }
            if let v = willDelayInterval { id(.willDelayInterval); b.writeInteger(v) }
            if let v = requestResponseInformation { id(.requestResponseInformation); b.writeInteger(v) }
            if let v = responseInformation { id(.responseInformation); b.writeMQTTString(v) }
            if let v = serverReference { id(.serverReference); b.writeMQTTString(v) }
            if let v = reasonString { id(.reasonString); b.writeMQTTString(v) }
            if let v = receiveMaximum { id(.receiveMaximum); b.writeInteger(v) }
            if let v = topicAliasMaximum { id(.topicAliasMaximum); b.writeInteger(v) }
            if let v = topicAlias { id(.topicAlias); b.writeInteger(v) }
            if let v = maximumQoS { id(.maximumQoS); b.writeInteger(v) }
            if let v = retainAvailable { id(.retainAvailable); b.writeInteger(v) }
            for p in userProperties { id(.userProperty); b.writeMQTTString(p.name); b.writeMQTTString(p.value) }
            if let v = maximumPacketSize { id(.maximumPacketSize); b.writeInteger(v) }
            if let v = wildcardSubscriptionAvailable { id(.wildcardSubscriptionAvailable); b.writeInteger(v) }
            if let v = subscriptionIdentifierAvailable { id(.subscriptionIdentifierAvailable); b.writeInteger(v) }
            if let v = sharedSubscriptionAvailable { id(.sharedSubscriptionAvailable); b.writeInteger(v) }
        }
    }
}
