import ClusterTransport
import MQTTCore
import NIOCore

// The cluster coder's fast forms of what sessions deliver and push to connections. A stored property added to one
// of these types must be added here too (`BinaryFastFormTests` counts them).

/// Message, a flags byte (QoS, DUP, RETAIN, whether a packet identifier follows), the packet identifier, then the
/// subscription identifiers.
extension OutgoingPublish: BinaryFastCodable {
    private enum Flag {
        static let qosMask: UInt8 = 0x03
        static let dup: UInt8 = 1 << 2
        static let retain: UInt8 = 1 << 3
        static let packetID: UInt8 = 1 << 4
        static let all: UInt8 = 0x1F
    }

    public func writeBinary(to buffer: inout ByteBuffer) throws {
        try message.writeBinary(to: &buffer)
        var flags = qos.rawValue
        if dup { flags |= Flag.dup }
        if retain { flags |= Flag.retain }
        if packetID != nil { flags |= Flag.packetID }
        buffer.writeInteger(flags)
        if let packetID { buffer.writeBrokerPacketID(packetID) }
        buffer.writeBrokerUInt32List(subscriptionIdentifiers)
    }

    public init(readingBinary buffer: inout ByteBuffer) throws {
        let message = try Message(readingBinary: &buffer)
        let flags = try buffer.readBrokerFlags(allowed: Flag.all, of: "OutgoingPublish")
        let packetID = flags & Flag.packetID != 0 ? try buffer.readBrokerPacketID() : nil
        self.init(
            message: message, qos: try ByteBuffer.brokerQoS(flags & Flag.qosMask), packetID: packetID,
            dup: flags & Flag.dup != 0, retain: flags & Flag.retain != 0,
            subscriptionIdentifiers: try buffer.readBrokerUInt32List())
    }
}

/// A case byte (0 publish, 1 PUBREL), then the case's value.
extension SessionOutput: BinaryFastCodable {
    public func writeBinary(to buffer: inout ByteBuffer) throws {
        switch self {
        case .publish(let publish):
            buffer.writeInteger(UInt8(0))
            try publish.writeBinary(to: &buffer)
        case .pubRel(let id):
            buffer.writeInteger(UInt8(1))
            buffer.writeBrokerPacketID(id)
        }
    }

    public init(readingBinary buffer: inout ByteBuffer) throws {
        switch try buffer.readBrokerCase(count: 2, of: "SessionOutput") {
        case 0: self = .publish(try OutgoingPublish(readingBinary: &buffer))
        default: self = .pubRel(try buffer.readBrokerPacketID())
        }
    }
}

/// Message, delivery, then whether it is a retained delivery.
extension SessionDelivery: BinaryFastCodable {
    public func writeBinary(to buffer: inout ByteBuffer) throws {
        try message.writeBinary(to: &buffer)
        try delivery.writeBinary(to: &buffer)
        buffer.writeFastBool(isRetainedDelivery)
    }

    public init(readingBinary buffer: inout ByteBuffer) throws {
        let message = try Message(readingBinary: &buffer)
        let delivery = try Delivery(readingBinary: &buffer)
        self.init(message: message, delivery: delivery, isRetainedDelivery: try buffer.readFastBool())
    }
}
