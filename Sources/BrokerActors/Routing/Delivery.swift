import MQTTCore

/// One subscriber's share of a published message, as the subscription index computes it: the session to deliver
/// to and the options of the subscription(s) that matched.
public struct Delivery: Sendable, Hashable, Codable {
    public var clientID: ClientID
    /// The maximum QoS of all matching subscriptions of this client [MQTT-3.3.4-2]; the message is delivered at
    /// min(this, the message's QoS).
    public var qos: MQTTQoS
    /// The identifiers of all matching subscriptions that have one [MQTT-3.3.4-4].
    public var subscriptionIdentifiers: [UInt32]
    /// True when any matching subscription asked for Retain As Published.
    public var retainAsPublished: Bool

    public init(clientID: ClientID, qos: MQTTQoS, subscriptionIdentifiers: [UInt32] = [], retainAsPublished: Bool = false) {
        self.clientID = clientID
        self.qos = qos
        self.subscriptionIdentifiers = subscriptionIdentifiers
        self.retainAsPublished = retainAsPublished
    }
}
