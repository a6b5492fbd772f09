import MQTTCore
import NIOCore

/// The packet-level state of one client connection: which outgoing requests wait for which acknowledgement, the
/// incoming QoS 2 exchanges, the server's Receive Maximum and the keep-alive ping. It takes events and returns what to
/// do next; `MQTTClientHandler` carries that out. `Waiter` is whatever the shell needs to complete a request.
struct ClientSessionStateMachine<Waiter> {
    enum PublishStage: Equatable { case awaitingPubAck, awaitingPubRec, awaitingPubComp }

    enum Request {
        case publish(PublishStage, Waiter)
        case subscribe(Waiter)
        case unsubscribe(Waiter)
    }

    enum PublishAction {
        /// Write this PUBLISH (its packet identifier is filled in for QoS 1 and 2).
        case send(MQTTPacket.Publish)
        /// The server's Receive Maximum is reached; it is sent later through `dequeuePublish()`.
        case queued
    }

    enum InboundAction {
        case none
        case connAck(MQTTPacket.ConnAck)
        /// Hand the message to the application and write `reply` (PUBACK or PUBREC) if there is one.
        case deliver(MQTTPacket.Publish, reply: MQTTPacket?)
        /// Write this packet (PUBREL after PUBREC, PUBCOMP after PUBREL, PUBREC for a repeated QoS 2 PUBLISH).
        case reply(MQTTPacket)
        /// The exchange ended; a send slot may have freed up, so try `dequeuePublish()`.
        case publishCompleted(Waiter, MQTTClient.PublishResult)
        case subscribeCompleted(Waiter, MQTTPacket.SubAck)
        case unsubscribeCompleted(Waiter, MQTTPacket.UnsubAck)
        case serverDisconnected(MQTTPacket.Disconnect)
        /// The server broke the protocol: close the connection.
        case protocolViolation(String)
    }

    enum KeepAliveAction: Equatable { case sendPing, timedOut }

    let autoAck: Bool

    private var requests = PacketIDTable<Request>()
    /// PUBLISHes waiting for a send slot.
    private var queue = CircularBuffer<(MQTTPacket.Publish, Waiter)>()
    /// QoS 1 and 2 PUBLISHes sent and not yet completed.
    private(set) var outstandingPublishes = 0
    /// The server's Receive Maximum (MQTT 5); 65535 when it sent none.
    private(set) var sendQuota = Int(UInt16.max)
    /// Incoming QoS 2 packet identifiers for which PUBREC was sent and PUBREL has not arrived yet.
    private var inboundQoS2: Set<UInt16> = []
    private var connected = false
    private var pingOutstanding = false

    init(autoAck: Bool) {
        self.autoAck = autoAck
    }

    /// Whether a QoS 1 or 2 PUBLISH would be sent now rather than queued.
    var canSendPublish: Bool { outstandingPublishes < sendQuota && queue.isEmpty && !requests.isFull }

    // MARK: Outgoing requests

    mutating func publish(_ publish: MQTTPacket.Publish, waiter: Waiter) -> PublishAction {
        guard publish.qos != .atMostOnce else {
            var publish = publish
            publish.packetID = nil
            return .send(publish)
        }
        guard canSendPublish else {
            queue.append((publish, waiter))
            return .queued
        }
        return .send(register(publish, waiter))
    }

    /// The next queued PUBLISH that may be sent now, with its identifier filled in.
    mutating func dequeuePublish() -> MQTTPacket.Publish? {
        guard !queue.isEmpty, outstandingPublishes < sendQuota, !requests.isFull else { return nil }
        let (publish, waiter) = queue.removeFirst()
        return register(publish, waiter)
    }

    private mutating func register(_ publish: MQTTPacket.Publish, _ waiter: Waiter) -> MQTTPacket.Publish {
        var publish = publish
        let stage: PublishStage = publish.qos == .atLeastOnce ? .awaitingPubAck : .awaitingPubRec
        publish.packetID = requests.insert(.publish(stage, waiter))
        outstandingPublishes += 1
        return publish
    }

    /// Reserves an identifier for SUBSCRIBE; nil when all are in use.
    mutating func subscribe(waiter: Waiter) -> PacketID? { requests.insert(.subscribe(waiter)) }

    /// Reserves an identifier for UNSUBSCRIBE; nil when all are in use.
    mutating func unsubscribe(waiter: Waiter) -> PacketID? { requests.insert(.unsubscribe(waiter)) }

    /// The acknowledgement to send for a message delivered with `autoAck` off.
    mutating func acknowledge(_ publish: MQTTPacket.Publish) -> MQTTPacket? {
        guard let id = publish.packetID else { return nil }
        switch publish.qos {
        case .atMostOnce: return nil
        case .atLeastOnce: return .pubAck(.init(packetID: id))
        case .exactlyOnce:
            inboundQoS2.insert(id.rawValue)
            return .pubRec(.init(packetID: id))
        }
    }

    // MARK: Incoming packets

    mutating func receive(_ packet: MQTTPacket) -> InboundAction {
        if !connected {
            guard case .connAck(let ack) = packet else { return .protocolViolation("first packet is not CONNACK") }
            connected = true
            if let maximum = ack.properties.receiveMaximum { sendQuota = Int(maximum) }
            return .connAck(ack)
        }
        switch packet {
        case .publish(let publish): return receivePublish(publish)
        case .pubAck(let ack): return completePublish(ack, expected: .awaitingPubAck)
        case .pubRec(let ack):
            guard case .publish(.awaitingPubRec, let waiter) = requests[ack.packetID] else {
                return .protocolViolation("PUBREC for unknown packet identifier")
            }
            if ack.reasonCode.isFailure {  // The exchange ends at a failed PUBREC [MQTT-4.3.3].
                return completePublish(ack, expected: .awaitingPubRec)
            }
            requests[ack.packetID] = .publish(.awaitingPubComp, waiter)
            return .reply(.pubRel(.init(packetID: ack.packetID)))
        case .pubComp(let ack): return completePublish(ack, expected: .awaitingPubComp)
        case .pubRel(let rel):
            // An unknown identifier most likely belongs to an earlier connection of the same session, whose
            // message was delivered then; this client keeps no state across connections, so complete it.
            inboundQoS2.remove(rel.packetID.rawValue)
            return .reply(.pubComp(.init(packetID: rel.packetID)))
        case .subAck(let ack):
            guard case .subscribe(let waiter) = requests.remove(ack.packetID) else {
                return .protocolViolation("SUBACK for unknown packet identifier")
            }
            return .subscribeCompleted(waiter, ack)
        case .unsubAck(let ack):
            guard case .unsubscribe(let waiter) = requests.remove(ack.packetID) else {
                return .protocolViolation("UNSUBACK for unknown packet identifier")
            }
            return .unsubscribeCompleted(waiter, ack)
        case .pingResp:
            pingOutstanding = false
            return .none
        case .disconnect(let disconnect): return .serverDisconnected(disconnect)
        case .auth: return .protocolViolation("AUTH without an authentication method")
        case .connAck: return .protocolViolation("second CONNACK")
        case .connect, .subscribe, .unsubscribe, .pingReq:
            return .protocolViolation("server sent a client-only packet")
        }
    }

    private mutating func receivePublish(_ publish: MQTTPacket.Publish) -> InboundAction {
        guard let id = publish.packetID, publish.qos != .atMostOnce else { return .deliver(publish, reply: nil) }
        // Deliver QoS 2 once and answer repeats with PUBREC until PUBREL releases the identifier (method A,
        // [MQTT-4.3.3-9]); this holds whether the first PUBREC came from autoAck or from acknowledge(_:).
        if publish.qos == .exactlyOnce, inboundQoS2.contains(id.rawValue) {
            return .reply(.pubRec(.init(packetID: id)))
        }
        guard autoAck else { return .deliver(publish, reply: nil) }
        if publish.qos == .atLeastOnce { return .deliver(publish, reply: .pubAck(.init(packetID: id))) }
        inboundQoS2.insert(id.rawValue)
        return .deliver(publish, reply: .pubRec(.init(packetID: id)))
    }

    private mutating func completePublish(_ ack: MQTTPacket.PubAck, expected: PublishStage) -> InboundAction {
        // A mismatch closes the connection, so removing before checking loses nothing.
        guard case .publish(let stage, let waiter) = requests.remove(ack.packetID), stage == expected else {
            return .protocolViolation("acknowledgement for unknown packet identifier")
        }
        outstandingPublishes -= 1
        let result = MQTTClient.PublishResult(
            packetID: ack.packetID, reasonCode: ack.reasonCode, properties: ack.properties)
        return .publishCompleted(waiter, result)
    }

    // MARK: Keep-alive and close

    /// Called once per keep-alive interval: ping, or give up when the previous ping got no answer.
    mutating func keepAliveTick() -> KeepAliveAction {
        if pingOutstanding { return .timedOut }
        pingOutstanding = true
        return .sendPing
    }

    /// The connection closed: every waiter that has not been completed, queued ones included.
    mutating func close() -> [Waiter] {
        var waiters: [Waiter] = requests.removeAll().map { request in
            switch request {
            case .publish(_, let waiter), .subscribe(let waiter), .unsubscribe(let waiter): waiter
            }
        }
        while let (_, waiter) = queue.popFirst() { waiters.append(waiter) }
        outstandingPublishes = 0
        return waiters
    }
}
