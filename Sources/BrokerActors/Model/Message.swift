import MQTTCore
import NIOCore

/// The MQTT 5 properties that travel with an application message from publisher to subscriber unchanged
/// [MQTT-3.3.2-4] [MQTT-3.3.2-17..20].
public struct MessageProperties: Sendable, Hashable, Codable {
    public var payloadFormatIndicator: UInt8?
    public var contentType: String?
    public var responseTopic: String?
    public var correlationData: ByteBuffer?
    public var userProperties: [MQTTUserProperty]

    public init(
        payloadFormatIndicator: UInt8? = nil, contentType: String? = nil, responseTopic: String? = nil,
        correlationData: ByteBuffer? = nil, userProperties: [MQTTUserProperty] = []
    ) {
        self.payloadFormatIndicator = payloadFormatIndicator
        self.contentType = contentType
        self.responseTopic = responseTopic
        self.correlationData = correlationData
        self.userProperties = userProperties
    }

    public init(_ p: MQTTProperties) {
        self.init(
            payloadFormatIndicator: p.payloadFormatIndicator, contentType: p.contentType,
            responseTopic: p.responseTopic, correlationData: p.correlationData, userProperties: p.userProperties)
    }

    /// Copies these into a property block (for an outgoing PUBLISH).
    public func apply(to p: inout MQTTProperties) {
        p.payloadFormatIndicator = payloadFormatIndicator
        p.contentType = contentType
        p.responseTopic = responseTopic
        p.correlationData = correlationData
        p.userProperties = userProperties
    }
}

/// An application message inside the broker: what a PUBLISH (or a will) carries, independent of the packet
/// identifiers and aliases of any one connection.
public struct Message: Sendable, Hashable, Codable {
    public var topic: TopicName
    public var payload: ByteBuffer
    public var qos: MQTTQoS
    public var retain: Bool
    /// The client that published it, for No Local; nil for messages the broker itself publishes.
    public var publisher: ClientID?
    public var properties: MessageProperties
    /// When the Message Expiry Interval runs out; nil when it never expires.
    public var expiresAt: Timestamp?

    public init(
        topic: TopicName, payload: ByteBuffer, qos: MQTTQoS, retain: Bool = false, publisher: ClientID? = nil,
        properties: MessageProperties = .init(), expiresAt: Timestamp? = nil
    ) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.publisher = publisher
        self.properties = properties
        self.expiresAt = expiresAt
    }

    public func isExpired(at now: Timestamp) -> Bool {
        guard let expiresAt else { return false }
        return now >= expiresAt
    }
}
