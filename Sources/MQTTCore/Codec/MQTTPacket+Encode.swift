import NIOCore

extension MQTTPacket {
    /// Appends the whole packet (fixed header, remaining length, body) to `out`. Fields that `version` does not
    /// have are left out.
    public func encode(version: MQTTProtocolVersion, into out: inout ByteBuffer) {
        out.writeInteger(kind.rawValue << 4 | fixedHeaderFlags)
        out.writeWithVariableLengthPrefix { b in encodeBody(version: version, into: &b) }
    }

    /// The encoded size of the whole packet, for Maximum Packet Size checks.
    public func encodedSize(version: MQTTProtocolVersion) -> Int {
        var scratch = ByteBufferAllocator().buffer(capacity: 64)
        encode(version: version, into: &scratch)
        return scratch.readableBytes
    }

    private var fixedHeaderFlags: UInt8 {
        switch self {
        case .publish(let p): (p.dup ? 0x08 : 0) | p.qos.rawValue << 1 | (p.retain ? 0x01 : 0)
        case .pubRel, .subscribe, .unsubscribe: 0b0010
        default: 0
        }
    }

    private func encodeBody(version v: MQTTProtocolVersion, into b: inout ByteBuffer) {
        let v5 = v == .v5
        switch self {
        case .connect(let c): c.encodeBody(into: &b)
        case .connAck(let c):
            b.writeInteger(UInt8(c.sessionPresent ? 1 : 0))
            b.writeInteger(v5 ? c.reasonCode.rawValue : c.reasonCode.v3ConnectReturnCode)
            if v5 { c.properties.write(to: &b) }
        case .publish(let p):
            b.writeMQTTString(p.topic?.value ?? "")
            if let id = p.packetID { b.writeInteger(id.rawValue) }
            if v5 { p.properties.write(to: &b) }
            b.writeImmutableBuffer(p.payload)
        case .pubAck(let a), .pubRec(let a), .pubRel(let a), .pubComp(let a):
            b.writeInteger(a.packetID.rawValue)
            // The reason code and properties may be omitted when they are Success and empty [MQTT-3.4.2.1].
            if v5, a.reasonCode != .success || !a.properties.isEmpty {
                b.writeInteger(a.reasonCode.rawValue)
                if !a.properties.isEmpty { a.properties.write(to: &b) }
            }
        case .subscribe(let s):
            b.writeInteger(s.packetID.rawValue)
            if v5 { s.properties.write(to: &b) }
            for sub in s.subscriptions {
                b.writeMQTTString(sub.filter.rawValue)
                var options = sub.options.qos.rawValue
                if v5 {
                    if sub.options.noLocal { options |= 0x04 }
                    if sub.options.retainAsPublished { options |= 0x08 }
                    options |= sub.options.retainHandling.rawValue << 4
                }
                b.writeInteger(options)
            }
        case .subAck(let s):
            b.writeInteger(s.packetID.rawValue)
            if v5 { s.properties.write(to: &b) }
            for code in s.reasonCodes { b.writeInteger(v5 || !code.isFailure ? code.rawValue : 0x80) }
        case .unsubscribe(let u):
            b.writeInteger(u.packetID.rawValue)
            if v5 { u.properties.write(to: &b) }
            for filter in u.filters { b.writeMQTTString(filter.rawValue) }
        case .unsubAck(let u):
            b.writeInteger(u.packetID.rawValue)
            if v5 {
                u.properties.write(to: &b)
                for code in u.reasonCodes { b.writeInteger(code.rawValue) }
            }
        case .pingReq, .pingResp: break
        case .disconnect(let d):
            if v5, d.reasonCode != .normalDisconnection || !d.properties.isEmpty {
                b.writeInteger(d.reasonCode.rawValue)
                if !d.properties.isEmpty { d.properties.write(to: &b) }
            }
        case .auth(let a):
            if a.reasonCode != .success || !a.properties.isEmpty {
                b.writeInteger(a.reasonCode.rawValue)
                if !a.properties.isEmpty { a.properties.write(to: &b) }
            }
        }
    }
}

extension MQTTPacket.Connect {
    fileprivate func encodeBody(into b: inout ByteBuffer) {
        let v5 = version == .v5
        b.writeMQTTString(version.protocolName)
        b.writeInteger(version.rawValue)
        var flags: UInt8 = cleanStart ? 0x02 : 0
        if let will {
            flags |= 0x04 | will.qos.rawValue << 3
            if will.retain { flags |= 0x20 }
        }
        if password != nil { flags |= 0x40 }
        if username != nil { flags |= 0x80 }
        b.writeInteger(flags)
        b.writeInteger(keepAlive)
        if v5 { properties.write(to: &b) }
        b.writeMQTTString(clientID)
        if let will {
            if v5 { will.properties.write(to: &b) }
            b.writeMQTTString(will.topic.value)
            b.writeMQTTBinary(will.payload)
        }
        if let username { b.writeMQTTString(username) }
        if let password { b.writeMQTTBinary(password) }
    }
}
