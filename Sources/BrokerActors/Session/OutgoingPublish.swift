import MQTTCore

/// A message on its way from a session to its client, before the connection applies topic aliases and the
/// client's Maximum Packet Size.
public struct OutgoingPublish: Sendable, Hashable, Codable {
    public var message: Message
    /// The QoS it is sent at: min(message QoS, subscription QoS).
    public var qos: MQTTQoS
    /// Nil exactly for QoS 0.
    public var packetID: PacketID?
    public var dup: Bool
    /// The RETAIN flag on the wire (depends on Retain As Published and on whether it is a retained delivery).
    public var retain: Bool
    public var subscriptionIdentifiers: [UInt32]

    public init(
        message: Message, qos: MQTTQoS, packetID: PacketID?, dup: Bool, retain: Bool, subscriptionIdentifiers: [UInt32]
    ) {
        self.message = message
        self.qos = qos
        self.packetID = packetID
        self.dup = dup
        self.retain = retain
        self.subscriptionIdentifiers = subscriptionIdentifiers
    }

    /// The PUBLISH packet, with Message Expiry Interval set to the time left [MQTT-3.3.2-6].
    public func packet(now: Timestamp) -> MQTTPacket.Publish {
        var properties = MQTTProperties()
        message.properties.apply(to: &properties)
        if let expiresAt = message.expiresAt { properties.messageExpiryInterval = now.secondsUntil(expiresAt) }
        properties.subscriptionIdentifiers = subscriptionIdentifiers
        return MQTTPacket.Publish(
            topic: message.topic, payload: message.payload, qos: qos, retain: retain, dup: dup, packetID: packetID,
            properties: properties)
    }
}

/// What a session hands its connection: packets to write, in order.
public enum SessionOutput: Sendable, Hashable, Codable {
    case publish(OutgoingPublish)
    /// Resent on reconnect for a QoS 2 message whose PUBREC already arrived [MQTT-4.4.0-1].
    case pubRel(PacketID)
}

/// A message together with how it matched one subscriber.
public struct SessionDelivery: Sendable, Hashable, Codable {
    public var message: Message
    public var delivery: Delivery
    /// True when this is a retained message sent because of a new subscription (the RETAIN flag is then always set
    /// [MQTT-3.3.1-8]).
    public var isRetainedDelivery: Bool

    public init(message: Message, delivery: Delivery, isRetainedDelivery: Bool = false) {
        self.message = message
        self.delivery = delivery
        self.isRetainedDelivery = isRetainedDelivery
    }
}
