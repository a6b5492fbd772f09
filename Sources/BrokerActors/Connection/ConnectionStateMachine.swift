import MQTTCore
import NIOCore

/// One MQTT connection's protocol state: the CONNECT handshake, keep-alive, topic aliases in both directions,
/// Receive Maximum and Maximum Packet Size. It turns packets into `ConnectionAction`s and never does IO.
public struct ConnectionStateMachine: Sendable {
    public enum Action: Sendable {
        case send(MQTTPacket)
        /// Hand a request to the broker (in order).
        case request(BrokerRequest)
        /// Close the connection after the packets already sent are flushed.
        case close
    }

    enum State: Sendable {
        case awaitingConnect
        case connecting(Negotiated, pending: [MQTTPacket], output: [SessionOutput])
        case connected(Negotiated)
        case closed
    }

    /// What was agreed in CONNECT/CONNACK.
    struct Negotiated: Sendable {
        var version: MQTTProtocolVersion
        var clientID: ClientID
        var assignedClientID: Bool
        var keepAlive: UInt16
        var sessionExpiry: UInt32
        var requestProblemInformation: Bool
        var requestResponseInformation: Bool
        var clientMaximumPacketSize: Int?
        var clientTopicAliasMaximum: UInt16
        var inboundAliases: [UInt16: TopicName] = [:]
        var outboundAliases: [TopicName: UInt16] = [:]
        /// Incoming QoS 1/2 PUBLISHes not yet acknowledged by the server (QoS 2 until PUBCOMP).
        var unacknowledgedInbound: Set<PacketID> = []
    }

    public let limits: ConnectionLimits
    var state: State = .awaitingConnect
    private(set) var lastReceived: Timestamp

    public init(limits: ConnectionLimits, now: Timestamp) {
        self.limits = limits
        self.lastReceived = now
    }

    /// A machine in the closed state (after the server disconnected the client).
    /// Moves to the closed state (the server disconnected the client); nothing more is sent or requested.
    public mutating func serverClosed() {
        state = .closed
    }

    /// The version the client announced in CONNECT; kept after close so the last packet is encoded right.
    public internal(set) var version: MQTTProtocolVersion?

    public var clientID: ClientID? {
        switch state {
        case .connecting(let n, _, _), .connected(let n): n.clientID
        default: nil
        }
    }

    public var isConnected: Bool {
        if case .connected = state { return true }
        return false
    }

    /// The keep-alive in force, in seconds (0 = none).
    public var keepAlive: UInt16 {
        switch state {
        case .connecting(let n, _, _), .connected(let n): n.keepAlive
        default: 0
        }
    }

    // MARK: Inbound

    public mutating func received(_ packet: MQTTPacket, now: Timestamp) -> [Action] {
        lastReceived = now
        switch state {
        case .awaitingConnect:
            guard case .connect(let connect) = packet else {
                return fail(.protocolViolation("first packet is not CONNECT"))
            }
            return handleConnect(connect)
        case .connecting(let n, var pending, let output):
            if case .connect = packet { return fail(.protocolViolation("second CONNECT")) }  // [MQTT-3.1.0-2]
            pending.append(packet)
            state = .connecting(n, pending: pending, output: output)
            return []
        case .connected(var n):
            let actions = handleConnected(packet, &n)
            if case .connected = state { state = .connected(n) }
            return actions
        case .closed:
            return []
        }
    }

    /// A decoding error or other protocol violation: the single place where errors become packets
    /// (`MQTTProtocolError.response`) followed by close, with the will published.
    public mutating func fail(_ error: MQTTProtocolError) -> [Action] {
        let wasConnected = isConnected
        let wasConnecting: Bool = { if case .connecting = state { return true } else { return false } }()
        version = version ?? error.version
        if case .closed = state { return [] }
        state = .closed
        var actions: [Action] = []
        if let response = error.response(version: version, afterConnect: wasConnected || wasConnecting) {
            actions.append(.send(response))
        }
        if wasConnected || wasConnecting { actions.append(.request(.connectionLost)) }
        actions.append(.close)
        return actions
    }

    /// The transport closed under us.
    public mutating func channelClosed() -> [Action] {
        switch state {
        case .connected, .connecting:
            state = .closed
            return [.request(.connectionLost)]
        case .awaitingConnect, .closed:
            state = .closed
            return []
        }
    }

    /// Called periodically: closes the connection when nothing arrived for 1.5 × keep-alive [MQTT-3.1.2-22], or
    /// when CONNECT did not arrive within `connectTimeout`.
    public mutating func tick(now: Timestamp, connectTimeoutMilliseconds: Int64) -> [Action] {
        switch state {
        case .awaitingConnect:
            if now.milliseconds - lastReceived.milliseconds >= connectTimeoutMilliseconds {
                state = .closed
                return [.close]
            }
            return []
        case .connected(let n) where n.keepAlive > 0:
            if now.milliseconds - lastReceived.milliseconds >= Int64(n.keepAlive) * 1500 {
                return fail(MQTTProtocolError(.keepAliveTimeout, "keep alive timeout"))
            }
            return []
        default:
            return []
        }
    }

    /// When `tick` next has something to check: the connect timeout before CONNECT, 1.5 × keep-alive after the last
    /// packet once connected, nil when nothing is due.
    public func nextDeadline(connectTimeoutMilliseconds: Int64) -> Timestamp? {
        switch state {
        case .awaitingConnect: lastReceived.adding(milliseconds: connectTimeoutMilliseconds)
        case .connected(let n) where n.keepAlive > 0: lastReceived.adding(milliseconds: Int64(n.keepAlive) * 1500)
        default: nil
        }
    }

    // MARK: Broker responses

    public mutating func brokerResponded(_ response: BrokerResponse, now: Timestamp) -> [Action] {
        switch (state, response) {
        case (.connecting(var n, let pending, let output), .connected(let outcome)):
            guard !outcome.reasonCode.isFailure else {
                state = .closed
                return [.send(.connAck(.init(sessionPresent: false, reasonCode: outcome.reasonCode))), .close]
            }
            var props = MQTTProperties()
            if n.version == .v5 {
                props.receiveMaximum = limits.receiveMaximum
                props.maximumPacketSize = UInt32(limits.maximumPacketSize)
                props.topicAliasMaximum = limits.topicAliasMaximum
                props.retainAvailable = 1
                props.wildcardSubscriptionAvailable = 1
                props.subscriptionIdentifierAvailable = 1
                props.sharedSubscriptionAvailable = 1
                if n.assignedClientID { props.assignedClientIdentifier = n.clientID.value }
                if n.sessionExpiry > limits.maximumSessionExpiry {
                    n.sessionExpiry = limits.maximumSessionExpiry
                    props.sessionExpiryInterval = n.sessionExpiry
                }
                if limits.maximumKeepAlive > 0, n.keepAlive == 0 || n.keepAlive > limits.maximumKeepAlive {
                    n.keepAlive = limits.maximumKeepAlive
                    props.serverKeepAlive = n.keepAlive
                }
                if n.requestResponseInformation, !limits.responseInformation.isEmpty {
                    props.responseInformation = limits.responseInformation.replacingClientID(with: n.clientID.value)
                }
            }
            state = .connected(n)
            var actions: [Action] = [
                .send(.connAck(.init(sessionPresent: outcome.sessionPresent, properties: props)))
            ]
            // What the session resends comes first, then what it sent while CONNACK was pending.
            actions += deliver(outcome.resend + output, now: now)
            for packet in pending { actions += received(packet, now: now) }
            return actions
        case (.connected(var n), _):
            let actions = respondConnected(response, &n)
            state = .connected(n)
            return actions
        default:
            return []
        }
    }

    private func respondConnected(_ response: BrokerResponse, _ n: inout Negotiated) -> [Action] {
        switch response {
        case .connected:
            return []
        case .published(let id, let qos, let code):
            let ack = MQTTPacket.PubAck(packetID: id, reasonCode: code, properties: .init())
            if qos == .atLeastOnce {
                n.unacknowledgedInbound.remove(id)
                return [.send(.pubAck(ack))]
            }
            if code.isFailure { n.unacknowledgedInbound.remove(id) }
            return [.send(.pubRec(ack))]
        case .released(let id, let found):
            n.unacknowledgedInbound.remove(id)
            let code: MQTTReasonCode = found ? .success : .packetIdentifierNotFound
            return [.send(.pubComp(.init(packetID: id, reasonCode: code)))]
        case .subscribed(let id, let codes):
            return [.send(.subAck(.init(packetID: id, reasonCodes: codes)))]
        case .unsubscribed(let id, let codes):
            return [.send(.unsubAck(.init(packetID: id, reasonCodes: n.version == .v5 ? codes : [])))]
        }
    }

    // MARK: Outbound

    /// Turns session output into packets: applies outbound topic aliases and drops messages larger than the
    /// client's Maximum Packet Size [MQTT-3.1.2-24], acknowledging them on the client's behalf so the window moves.
    public mutating func deliver(_ outputs: [SessionOutput], now: Timestamp) -> [Action] {
        if case .connecting(let n, let pending, let output) = state {
            state = .connecting(n, pending: pending, output: output + outputs)
            return []
        }
        guard case .connected(var n) = state else { return [] }
        var actions: [Action] = []
        actions.reserveCapacity(outputs.count)
        for output in outputs {
            switch output {
            case .pubRel(let id):
                actions.append(.send(.pubRel(.init(packetID: id))))
            case .publish(let outgoing):
                var publish = outgoing.packet(now: now)
                // The alias is only recorded once the packet really goes out, or the client would be sent an alias
                // it was never told about.
                var aliased = n
                if n.version == .v5 { applyOutboundAlias(&publish, &aliased) }
                let packet = MQTTPacket.publish(publish)
                if let max = n.clientMaximumPacketSize, packet.encodedSize(version: n.version) > max {
                    if let id = outgoing.packetID {
                        actions.append(.request(outgoing.qos == .atLeastOnce ? .pubAck(id) : .pubRec(id, .success)))
                        if outgoing.qos == .exactlyOnce { actions.append(.request(.pubComp(id))) }
                    }
                    continue
                }
                n = aliased
                actions.append(.send(packet))
            }
        }
        state = .connected(n)
        return actions
    }

    private func applyOutboundAlias(_ publish: inout MQTTPacket.Publish, _ n: inout Negotiated) {
        let maximum = min(n.clientTopicAliasMaximum, limits.outboundTopicAliases)
        guard maximum > 0, let topic = publish.topic else { return }
        if let alias = n.outboundAliases[topic] {
            publish.topic = nil
            publish.properties.topicAlias = alias
        } else if n.outboundAliases.count < Int(maximum) {
            let alias = UInt16(n.outboundAliases.count + 1)
            n.outboundAliases[topic] = alias
            publish.properties.topicAlias = alias
        }
    }
}

extension String {
    func replacingClientID(with clientID: String) -> String {
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: "%c") {
            result += rest[..<range.lowerBound]
            result += clientID
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
