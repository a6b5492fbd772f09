import ClusterTransport
import MQTTCore
import NIOCore

// The cluster coder's fast forms of the routing values. A stored property added to one of these types must be
// added here too (`BinaryFastFormTests` counts them).

/// Client identifier, a flags byte (QoS, Retain As Published), then the subscription identifiers.
extension Delivery: BinaryFastCodable {
    private enum Flag {
        static let qosMask: UInt8 = 0x03
        static let retainAsPublished: UInt8 = 1 << 2
        static let all: UInt8 = 0x07
    }

    public func writeBinary(to buffer: inout ByteBuffer) throws {
        buffer.writeBrokerClientID(clientID)
        buffer.writeInteger(qos.rawValue | (retainAsPublished ? Flag.retainAsPublished : 0))
        buffer.writeBrokerUInt32List(subscriptionIdentifiers)
    }

    public init(readingBinary buffer: inout ByteBuffer) throws {
        let clientID = try buffer.readBrokerClientID()
        let flags = try buffer.readBrokerFlags(allowed: Flag.all, of: "Delivery")
        self.init(
            clientID: clientID, qos: try ByteBuffer.brokerQoS(flags & Flag.qosMask),
            subscriptionIdentifiers: try buffer.readBrokerUInt32List(),
            retainAsPublished: flags & Flag.retainAsPublished != 0)
    }
}

/// The group's name and the filter proper, as two strings (the type itself does not validate them either).
extension SharedGroupKey: BinaryFastCodable {
    public func writeBinary(to buffer: inout ByteBuffer) throws {
        buffer.writeFastString(group)
        buffer.writeFastString(filter)
    }

    public init(readingBinary buffer: inout ByteBuffer) throws {
        let group = try buffer.readFastString()
        self.init(group: group, filter: try buffer.readFastString())
    }
}

/// A flags byte (direct, whether groups follow), then the groups as a count and keys.
extension RouteSelection: BinaryFastCodable {
    private enum Flag {
        static let direct: UInt8 = 1 << 0
        static let groups: UInt8 = 1 << 1
        static let all: UInt8 = 0x03
    }

    public func writeBinary(to buffer: inout ByteBuffer) throws {
        buffer.writeInteger((direct ? Flag.direct : 0) | (groups != nil ? Flag.groups : 0))
        if let groups {
            buffer.writeFastVarint(UInt64(groups.count))
            for key in groups { try key.writeBinary(to: &buffer) }
        }
    }

    public init(readingBinary buffer: inout ByteBuffer) throws {
        let flags = try buffer.readBrokerFlags(allowed: Flag.all, of: "RouteSelection")
        var groups: Set<SharedGroupKey>?
        if flags & Flag.groups != 0 {
            let count = try buffer.readFastCount()
            var keys = Set<SharedGroupKey>(minimumCapacity: Swift.min(count, 64))
            for _ in 0..<count { keys.insert(try SharedGroupKey(readingBinary: &buffer)) }
            groups = keys
        }
        self.init(direct: flags & Flag.direct != 0, groups: groups)
    }
}

/// Message, selection, then the optional name of the node whose adopted sessions alone receive it.
extension RoutedMessage: BinaryFastCodable {
    public func writeBinary(to buffer: inout ByteBuffer) throws {
        try message.writeBinary(to: &buffer)
        try selection.writeBinary(to: &buffer)
        buffer.writeFastPresence(onlyAdoptedFrom != nil)
        if let onlyAdoptedFrom { buffer.writeFastString(onlyAdoptedFrom) }
    }

    public init(readingBinary buffer: inout ByteBuffer) throws {
        let message = try Message(readingBinary: &buffer)
        let selection = try RouteSelection(readingBinary: &buffer)
        let onlyAdoptedFrom = try buffer.readFastPresence() ? try buffer.readFastString() : nil
        self.init(message: message, selection: selection, onlyAdoptedFrom: onlyAdoptedFrom)
    }
}
