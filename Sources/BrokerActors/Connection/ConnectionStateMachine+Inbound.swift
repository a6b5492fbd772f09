import MQTTCore
import NIOCore

extension ConnectionStateMachine {
    mutating func handleConnect(_ connect: MQTTPacket.Connect) -> [Action] {
        version = connect.version
        let v5 = connect.version == .v5
        var clientID: ClientID
        var assigned = false
        if connect.clientID.isEmpty {
            // v3.1.1 accepts an empty ID only with a clean session [MQTT-3.1.3-7] [MQTT-3.1.3-8]; 3.1 never does.
            guard connect.version == .v5 || (connect.version == .v3_1_1 && connect.cleanStart) else {
                return fail(MQTTProtocolError(.clientIdentifierNotValid, "empty client id", version: connect.version))
            }
            clientID = ClientID.generate()
            assigned = true
        } else {
            do {
                clientID = try ClientID(validating: connect.clientID)
            } catch {
                return fail(MQTTProtocolError(.clientIdentifierNotValid, "invalid client id", version: connect.version))
            }
        }
        if !v5, limits.maximumKeepAlive > 0, connect.keepAlive == 0 || connect.keepAlive > limits.maximumKeepAlive {
            // MQTT 3 has no Server Keep Alive to tell the client, so, as mosquitto does, a keep-alive above the
            // maximum is refused with "identifier rejected".
            return fail(MQTTProtocolError(.clientIdentifierNotValid, "keep alive above maximum", version: connect.version))
        }
        if v5, connect.properties.authenticationMethod != nil {
            // Enhanced authentication is not offered.
            state = .closed
            return [.send(.connAck(.init(sessionPresent: false, reasonCode: .badAuthenticationMethod))), .close]
        }
        // v3: clean session false means the session lasts forever; v5: Session Expiry Interval (default 0).
        let expiry: UInt32 = v5 ? (connect.properties.sessionExpiryInterval ?? 0) : (connect.cleanStart ? 0 : .max)
        let negotiated = Negotiated(
            version: connect.version, clientID: clientID, assignedClientID: assigned, keepAlive: connect.keepAlive,
            sessionExpiry: expiry,
            requestProblemInformation: (connect.properties.requestProblemInformation ?? 1) == 1,
            requestResponseInformation: (connect.properties.requestResponseInformation ?? 0) == 1,
            clientMaximumPacketSize: connect.properties.maximumPacketSize.map(Int.init),
            clientTopicAliasMaximum: v5 ? (connect.properties.topicAliasMaximum ?? 0) : 0)
        var will: WillMessage?
        if let w = connect.will {
            let message = Message(
                topic: w.topic, payload: w.payload, qos: w.qos, retain: w.retain, publisher: clientID,
                properties: MessageProperties(w.properties),
                expiresAt: nil)
            will = WillMessage(
                message: message, delayInterval: w.properties.willDelayInterval ?? 0,
                expiryInterval: w.properties.messageExpiryInterval)
        }
        state = .connecting(negotiated, pending: [], output: [])
        let request = ConnectRequest(
            clientID: clientID, assignedClientID: assigned, version: connect.version, cleanStart: connect.cleanStart,
            sessionExpiryInterval: expiry, receiveMaximum: Int(connect.properties.receiveMaximum ?? 65_535),
            will: will, username: connect.username,
            password: connect.password.map { Array($0.readableBytesView) })
        return [.request(.connect(request))]
    }

    mutating func handleConnected(_ packet: MQTTPacket, _ n: inout Negotiated) -> [Action] {
        switch packet {
        case .connect:
            return fail(.protocolViolation("second CONNECT"))  // [MQTT-3.1.0-2]
        case .publish(let publish):
            return handlePublish(publish, &n)
        case .pubAck(let ack):
            return [.request(.pubAck(ack.packetID))]
        case .pubRec(let ack):
            return [.request(.pubRec(ack.packetID, ack.reasonCode))]
        case .pubComp(let ack):
            return [.request(.pubComp(ack.packetID))]
        case .pubRel(let ack):
            return [.request(.pubRel(ack.packetID))]
        case .subscribe(let subscribe):
            if subscribe.properties.subscriptionIdentifiers.count > 1 {
                return fail(.protocolViolation("several subscription identifiers"))
            }
            return [.request(.subscribe(subscribe))]
        case .unsubscribe(let unsubscribe):
            return [.request(.unsubscribe(unsubscribe))]
        case .pingReq:
            return [.send(.pingResp)]
        case .disconnect(let disconnect):
            let requested = disconnect.properties.sessionExpiryInterval
            if let requested, requested != 0, n.sessionExpiry == 0 {
                return fail(.protocolViolation("session expiry set on disconnect after 0"))  // [MQTT-3.14.2-2]
            }
            state = .closed
            let publishWill = disconnect.reasonCode == .disconnectWithWillMessage
            return [.request(.disconnect(publishWill: publishWill, sessionExpiry: requested)), .close]
        case .auth:
            return fail(.protocolViolation("AUTH without enhanced authentication"))
        case .connAck, .subAck, .unsubAck, .pingResp:
            return fail(.protocolViolation("server packet sent by client"))
        }
    }

    private mutating func handlePublish(_ publish: MQTTPacket.Publish, _ n: inout Negotiated) -> [Action] {
        var topic = publish.topic
        if let alias = publish.properties.topicAlias {
            guard alias <= limits.topicAliasMaximum else {
                return fail(MQTTProtocolError(.topicAliasInvalid, "topic alias above maximum"))  // [MQTT-3.3.2-9]
            }
            if let topic { n.inboundAliases[alias] = topic } else { topic = n.inboundAliases[alias] }
        }
        guard let topic else { return fail(.protocolViolation("unknown topic alias")) }
        if !publish.properties.subscriptionIdentifiers.isEmpty {
            return fail(.protocolViolation("subscription identifier from client"))  // [MQTT-3.3.4-6]
        }
        if publish.properties.payloadFormatIndicator == 1,
            String(validating: publish.payload.readableBytesView, as: UTF8.self) == nil
        {
            return fail(MQTTProtocolError(.payloadFormatInvalid, "payload is not UTF-8"))
        }
        if let id = publish.packetID {
            // Only MQTT 5 clients are told the limit (CONNACK Receive Maximum); 3.1.1 clients are slowed down by
            // the connection's read backpressure instead.
            if n.version == .v5, !n.unacknowledgedInbound.contains(id),
                n.unacknowledgedInbound.count >= Int(limits.receiveMaximum)
            {
                return fail(MQTTProtocolError(.receiveMaximumExceeded, "receive maximum exceeded"))  // [MQTT-3.3.4-9]
            }
            n.unacknowledgedInbound.insert(id)
        }
        // `lastReceived` is the arrival time of this packet.
        let message = Message(
            topic: topic, payload: publish.payload, qos: publish.qos, retain: publish.retain,
            publisher: n.clientID, properties: MessageProperties(publish.properties),
            expiresAt: publish.properties.messageExpiryInterval.map { lastReceived.adding(seconds: $0) })
        return [.request(.publish(message, packetID: publish.packetID))]
    }
}

extension ClientID {
    /// A fresh identifier for a client that sent an empty one (MQTT 5 Assigned Client Identifier).
    static func generate() -> ClientID {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        let suffix = String((0..<20).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
        return ClientID(stringLiteral: "starling-" + suffix)
    }
}
