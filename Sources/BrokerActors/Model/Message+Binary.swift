import ClusterTransport
import MQTTCore
import NIOCore

// The cluster coder's fast forms of a message and its properties. A stored property added to either type must be
// added here too (`BinaryFastFormTests` counts them).

/// `flags` (which optional fields follow), then the fields present, in declaration order; user properties as a
/// count and name/value string pairs.
extension MessageProperties: BinaryFastCodable {
    private enum Flag {
        static let payloadFormatIndicator: UInt8 = 1 << 0
        static let contentType: UInt8 = 1 << 1
        static let responseTopic: UInt8 = 1 << 2
        static let correlationData: UInt8 = 1 << 3
        static let userProperties: UInt8 = 1 << 4
        static let all: UInt8 = 0x1F
    }

    public func writeBinary(to buffer: inout ByteBuffer) throws {
        var flags: UInt8 = 0
        if payloadFormatIndicator != nil { flags |= Flag.payloadFormatIndicator }
        if contentType != nil { flags |= Flag.contentType }
        if responseTopic != nil { flags |= Flag.responseTopic }
        if correlationData != nil { flags |= Flag.correlationData }
        if !userProperties.isEmpty { flags |= Flag.userProperties }
        buffer.writeInteger(flags)
        if let payloadFormatIndicator { buffer.writeInteger(payloadFormatIndicator) }
        if let contentType { buffer.writeFastString(contentType) }
        if let responseTopic { buffer.writeFastString(responseTopic) }
        if let correlationData { buffer.writeFastBytes(correlationData) }
        if !userProperties.isEmpty {
            buffer.writeFastVarint(UInt64(userProperties.count))
            for property in userProperties {
                buffer.writeFastString(property.name)
                buffer.writeFastString(property.value)
            }
        }
    }

    public init(readingBinary buffer: inout ByteBuffer) throws {
        let flags = try buffer.readBrokerFlags(allowed: Flag.all, of: "MessageProperties")
        self.init()
        if flags & Flag.payloadFormatIndicator != 0 { payloadFormatIndicator = try buffer.readFastByte() }
        if flags & Flag.contentType != 0 { contentType = try buffer.readFastString() }
        if flags & Flag.responseTopic != 0 { responseTopic = try buffer.readFastString() }
        if flags & Flag.correlationData != 0 { correlationData = try buffer.readFastBytes() }
        if flags & Flag.userProperties != 0 {
            let count = try buffer.readFastCount()
            var properties: [MQTTUserProperty] = []
            properties.reserveCapacity(Swift.min(count, 64))
            for _ in 0..<count {
                let name = try buffer.readFastString()
                properties.append(MQTTUserProperty(name, try buffer.readFastString()))
            }
            userProperties = properties
        }
    }

    /// Whether every property is absent (the common case, written as one flags byte by `Message`).
    var isEmpty: Bool {
        payloadFormatIndicator == nil && contentType == nil && responseTopic == nil && correlationData == nil
            && userProperties.isEmpty
    }
}

/// Topic, payload, then a flags byte (QoS, RETAIN, which optional fields follow), then the fields present:
/// publisher, expiry, properties.
extension Message: BinaryFastCodable {
    private enum Flag {
        static let qosMask: UInt8 = 0x03
        static let retain: UInt8 = 1 << 2
        static let publisher: UInt8 = 1 << 3
        static let expiresAt: UInt8 = 1 << 4
        static let properties: UInt8 = 1 << 5
        static let all: UInt8 = 0x3F
    }

    public func writeBinary(to buffer: inout ByteBuffer) throws {
        buffer.writeBrokerTopicName(topic)
        buffer.writeFastBytes(payload)
        let hasProperties = !properties.isEmpty
        var flags = qos.rawValue
        if retain { flags |= Flag.retain }
        if publisher != nil { flags |= Flag.publisher }
        if expiresAt != nil { flags |= Flag.expiresAt }
        if hasProperties { flags |= Flag.properties }
        buffer.writeInteger(flags)
        if let publisher { buffer.writeBrokerClientID(publisher) }
        if let expiresAt { buffer.writeBrokerTimestamp(expiresAt) }
        if hasProperties { try properties.writeBinary(to: &buffer) }
    }

    public init(readingBinary buffer: inout ByteBuffer) throws {
        let topic = try buffer.readBrokerTopicName()
        let payload = try buffer.readFastBytes()
        let flags = try buffer.readBrokerFlags(allowed: Flag.all, of: "Message")
        let qos = try ByteBuffer.brokerQoS(flags & Flag.qosMask)
        let publisher = flags & Flag.publisher != 0 ? try buffer.readBrokerClientID() : nil
        let expiresAt = flags & Flag.expiresAt != 0 ? try buffer.readBrokerTimestamp() : nil
        let properties =
            flags & Flag.properties != 0 ? try MessageProperties(readingBinary: &buffer) : MessageProperties()
        self.init(
            topic: topic, payload: payload, qos: qos, retain: flags & Flag.retain != 0, publisher: publisher,
            properties: properties, expiresAt: expiresAt)
    }
}
