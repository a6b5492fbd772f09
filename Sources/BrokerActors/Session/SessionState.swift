import MQTTCore

/// A subscription as a session remembers it (the topic shards hold the routing copy).
public struct StoredSubscription: Sendable, Hashable, Codable {
    public var filter: TopicFilter
    public var options: MQTTPacket.SubscriptionOptions
    public var identifier: UInt32?

    public init(filter: TopicFilter, options: MQTTPacket.SubscriptionOptions, identifier: UInt32?) {
        self.filter = filter
        self.options = options
        self.identifier = identifier
    }
}

/// A Last Will: the message and how long after the connection is lost to publish it.
public struct WillMessage: Sendable, Hashable, Codable {
    public var message: Message
    public var delayInterval: UInt32
    /// The will's Message Expiry Interval, counted from when it is published.
    public var expiryInterval: UInt32?

    public init(message: Message, delayInterval: UInt32, expiryInterval: UInt32? = nil) {
        self.message = message
        self.delayInterval = delayInterval
        self.expiryInterval = expiryInterval
    }

    /// The message to publish at `now`.
    public func messageToPublish(now: Timestamp) -> Message {
        var message = message
        message.expiresAt = expiryInterval.map { now.adding(seconds: $0) }
        return message
    }
}

/// The pure state of one MQTT session: subscriptions, the outgoing in-flight window, the queue of pending
/// messages, incoming QoS 2 state and the will. Every event returns the packets to write next; nothing here
/// touches a socket, a clock or an actor.
public struct SessionState: Sendable, Codable {
    public enum Phase: Sendable, Hashable, Codable {
        /// QoS 1, waiting for PUBACK.
        case awaitingPubAck
        /// QoS 2, waiting for PUBREC.
        case awaitingPubRec
        /// QoS 2, PUBREL sent, waiting for PUBCOMP.
        case awaitingPubComp
    }

    public struct InflightEntry: Sendable, Hashable, Codable {
        public var publish: OutgoingPublish
        public var phase: Phase
    }

    public let clientID: ClientID
    public var subscriptions: [String: StoredSubscription] = [:]
    /// Seconds the session outlives its connection; `UInt32.max` means it never expires.
    public var expiryInterval: UInt32
    public var will: WillMessage?
    public private(set) var isConnected = false
    /// The client's Receive Maximum: how many QoS 1 and 2 messages may be unacknowledged at once.
    public private(set) var receiveMaximum: Int = 65_535
    public private(set) var queue: SessionQueue
    /// Whether QoS 0 messages are queued while the client is offline.
    public var queueQoS0WhileOffline: Bool

    private var inflight: [PacketID: InflightEntry] = [:]
    private var inflightOrder: [PacketID] = []
    private var inflightOrderHead = 0
    /// In-flight entries not yet resent on the current connection, because the client's new Receive Maximum was
    /// smaller than what was in flight; they go out, in order, as acknowledgements free the window.
    private var pendingResend: [PacketID] = []
    private var lastPacketID: UInt16 = 0
    /// Incoming QoS 2 packet identifiers whose PUBREL has not arrived yet.
    public private(set) var awaitingRelease: Set<PacketID> = []

    public init(clientID: ClientID, expiryInterval: UInt32, queueCapacity: Int, queueQoS0WhileOffline: Bool = true) {
        self.clientID = clientID
        self.expiryInterval = expiryInterval
        self.queue = SessionQueue(capacity: queueCapacity)
        self.queueQoS0WhileOffline = queueQoS0WhileOffline
    }

    public var inflightCount: Int { inflight.count }

    /// Unacknowledged messages sent on the current connection: what Receive Maximum limits.
    private var sentCount: Int { inflight.count - pendingResend.count }

    // MARK: Connection

    /// The client (re)connected: resend every unacknowledged message with DUP set, and PUBREL for QoS 2 messages
    /// already received [MQTT-4.4.0-1] [MQTT-4.4.0-2], then fill the window from the queue.
    /// No more than the new Receive Maximum is resent at once [MQTT-3.3.4-9]; the rest follows as acknowledgements
    /// arrive.
    public mutating func attach(receiveMaximum: Int, now: Timestamp) -> [SessionOutput] {
        isConnected = true
        self.receiveMaximum = max(1, receiveMaximum)
        pendingResend = inflightOrder[inflightOrderHead...].filter { inflight[$0] != nil }
        var out: [SessionOutput] = []
        drainQueue(now: now, into: &out)
        return out
    }

    /// The packet that resends in-flight entry `id` on a new connection.
    private mutating func resend(_ id: PacketID) -> SessionOutput? {
        guard var entry = inflight[id] else { return nil }
        switch entry.phase {
        case .awaitingPubComp:
            return .pubRel(id)
        case .awaitingPubAck, .awaitingPubRec:
            entry.publish.dup = true
            inflight[id] = entry
            return .publish(entry.publish)
        }
    }

    public mutating func detach() {
        isConnected = false
    }

    // MARK: Outgoing messages

    /// Hands messages to the session: sent now when the client is connected and the window has room, queued
    /// otherwise. Messages past their expiry are dropped [MQTT-3.3.2-5].
    public mutating func deliver(_ deliveries: [SessionDelivery], now: Timestamp) -> [SessionOutput] {
        var out: [SessionOutput] = []
        for delivery in deliveries where !delivery.message.isExpired(at: now) {
            let qos = min(delivery.message.qos, delivery.delivery.qos)
            if qos == .atMostOnce {
                if isConnected {
                    out.append(.publish(makePublish(delivery, qos: qos, packetID: nil)))
                } else if queueQoS0WhileOffline {
                    queue.append(delivery)
                }
            } else if isConnected, queue.isEmpty, pendingResend.isEmpty, sentCount < receiveMaximum {
                out.append(.publish(sendInflight(delivery, qos: qos)))
            } else {
                queue.append(delivery)
            }
        }
        return out
    }

    /// PUBACK from the client.
    public mutating func pubAck(_ id: PacketID, now: Timestamp) -> [SessionOutput] {
        guard inflight[id]?.phase == .awaitingPubAck else { return [] }
        removeInflight(id)
        var out: [SessionOutput] = []
        drainQueue(now: now, into: &out)
        return out
    }

    /// PUBREC from the client: answer PUBREL, or forget the message when the client refused it (reason >= 0x80).
    public mutating func pubRec(_ id: PacketID, reasonCode: MQTTReasonCode, now: Timestamp) -> [SessionOutput] {
        guard let entry = inflight[id] else { return [] }
        switch entry.phase {
        case .awaitingPubRec where reasonCode.isFailure:
            removeInflight(id)
            var out: [SessionOutput] = []
            drainQueue(now: now, into: &out)
            return out
        case .awaitingPubRec, .awaitingPubComp:
            inflight[id]?.phase = .awaitingPubComp
            // The client had it from before the reconnect; the PUBREL sent now is its resend.
            if let index = pendingResend.firstIndex(of: id) { pendingResend.remove(at: index) }
            return [.pubRel(id)]
        case .awaitingPubAck:
            return []
        }
    }

    /// PUBCOMP from the client.
    public mutating func pubComp(_ id: PacketID, now: Timestamp) -> [SessionOutput] {
        guard inflight[id]?.phase == .awaitingPubComp else { return [] }
        removeInflight(id)
        var out: [SessionOutput] = []
        drainQueue(now: now, into: &out)
        return out
    }

    // MARK: Incoming QoS 2

    /// A QoS 2 PUBLISH arrived; returns true when it is new and must be routed, false for a retransmission that
    /// was already routed (exactly once, also across reconnects).
    public mutating func receiveQoS2(_ id: PacketID) -> Bool {
        awaitingRelease.insert(id).inserted
    }

    /// PUBREL arrived; returns false when the identifier was unknown (PUBCOMP then carries 0x92 in MQTT 5).
    public mutating func releaseQoS2(_ id: PacketID) -> Bool {
        awaitingRelease.remove(id) != nil
    }

    /// How many incoming QoS 2 messages wait for PUBREL (they count against the server's Receive Maximum).
    public var incomingQoS2Count: Int { awaitingRelease.count }

    // MARK: Validation

    /// Whether the state keeps the invariants the transitions rely on. A state decoded from another node or from
    /// disk is checked before use: `Codable` alone would accept, say, an in-flight order that names no entry, and a
    /// later transition would trap on it.
    public var isConsistent: Bool {
        guard receiveMaximum >= 1, queue.isConsistent, inflightOrderHead >= 0, inflightOrderHead <= inflightOrder.count
        else { return false }
        let ordered = inflightOrder[inflightOrderHead...]
        let orderedSet = Set(ordered)
        guard orderedSet.count == ordered.count, Set(inflight.keys).isSubset(of: orderedSet) else { return false }
        guard Set(pendingResend).isSubset(of: Set(inflight.keys)) else { return false }
        for (id, entry) in inflight where entry.publish.packetID != id || entry.publish.qos == .atMostOnce {
            return false
        }
        return subscriptions.allSatisfy { $0.key == $0.value.filter.rawValue }
    }

    // MARK: Merging

    /// Every message this session still has to deliver, in order: the unacknowledged in-flight ones the client has
    /// not confirmed receiving (PUBREC not yet in), then the queue. What another copy of the session takes in when
    /// two copies are merged after a partition.
    public var pendingDeliveries: [SessionDelivery] {
        var items: [SessionDelivery] = []
        for id in inflightOrder[inflightOrderHead...] {
            guard let entry = inflight[id], entry.phase != .awaitingPubComp else { continue }
            let publish = entry.publish
            let delivery = Delivery(
                clientID: clientID, qos: publish.qos, subscriptionIdentifiers: publish.subscriptionIdentifiers,
                retainAsPublished: publish.retain)
            items.append(SessionDelivery(message: publish.message, delivery: delivery))
        }
        return items + queue.elements
    }

    // MARK: Private

    private func makePublish(_ d: SessionDelivery, qos: MQTTQoS, packetID: PacketID?) -> OutgoingPublish {
        // RETAIN is set for retained deliveries on subscribe [MQTT-3.3.1-9]; otherwise only with Retain As
        // Published [MQTT-3.3.1-12] [MQTT-3.3.1-13].
        let retain = d.isRetainedDelivery || (d.delivery.retainAsPublished && d.message.retain)
        return OutgoingPublish(
            message: d.message, qos: qos, packetID: packetID, dup: false, retain: retain,
            subscriptionIdentifiers: d.delivery.subscriptionIdentifiers)
    }

    private mutating func sendInflight(_ d: SessionDelivery, qos: MQTTQoS) -> OutgoingPublish {
        let id = allocatePacketID()
        let publish = makePublish(d, qos: qos, packetID: id)
        inflight[id] = InflightEntry(publish: publish, phase: qos == .atLeastOnce ? .awaitingPubAck : .awaitingPubRec)
        inflightOrder.append(id)
        return publish
    }

    private mutating func drainQueue(now: Timestamp, into out: inout [SessionOutput]) {
        guard isConnected else { return }
        var resent = 0
        while resent < pendingResend.count, sentCount + resent < receiveMaximum {
            if let packet = resend(pendingResend[resent]) { out.append(packet) }
            resent += 1
        }
        pendingResend.removeFirst(resent)
        guard pendingResend.isEmpty else { return }
        while let next = queue.elements.first {
            if next.message.isExpired(at: now) {
                _ = queue.popFirst()
                continue
            }
            let qos = min(next.message.qos, next.delivery.qos)
            if qos == .atMostOnce {
                _ = queue.popFirst()
                out.append(.publish(makePublish(next, qos: qos, packetID: nil)))
            } else if sentCount < receiveMaximum {
                _ = queue.popFirst()
                out.append(.publish(sendInflight(next, qos: qos)))
            } else {
                break
            }
        }
    }

    private mutating func allocatePacketID() -> PacketID {
        // The window is at most 65535 wide, so a free identifier always exists when this is called.
        repeat {
            lastPacketID = lastPacketID == .max ? 1 : lastPacketID + 1
        } while inflight[PacketID(rawValue: lastPacketID)!] != nil
        return PacketID(rawValue: lastPacketID)!
    }

    private mutating func removeInflight(_ id: PacketID) {
        inflight[id] = nil
        if let index = pendingResend.firstIndex(of: id) { pendingResend.remove(at: index) }
        // Acknowledgements nearly always arrive in order, so this finds `id` at the head.
        if let index = inflightOrder[inflightOrderHead...].firstIndex(of: id) {
            if index == inflightOrderHead {
                inflightOrderHead += 1
            } else {
                inflightOrder.remove(at: index)
            }
        }
        if inflightOrderHead == inflightOrder.count {
            inflightOrder.removeAll(keepingCapacity: true)
            inflightOrderHead = 0
        } else if inflightOrderHead > 256, inflightOrderHead * 2 > inflightOrder.count {
            inflightOrder.removeFirst(inflightOrderHead)
            inflightOrderHead = 0
        }
    }
}
