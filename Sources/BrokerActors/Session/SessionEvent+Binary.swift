import ClusterTransport
import MQTTCore
import NIOCore

// The cluster coder's fast forms of session replication: `[ReplicaUpdate]` and the events, wills, timers and
// subscriptions in it. A stored property or case added to one of these types must be added here too (the switches
// below are exhaustive; `BinaryFastFormTests` counts stored properties).

/// Two optional timestamps, each behind a presence byte.
extension SessionTimers: BinaryFastCodable {
    public func writeBinary(to buffer: inout ByteBuffer) throws {
        buffer.writeBrokerOptionalTimestamp(willDueAt)
        buffer.writeBrokerOptionalTimestamp(expiresAt)
    }

    public init(readingBinary buffer: inout ByteBuffer) throws {
        let willDueAt = try buffer.readBrokerOptionalTimestamp()
        self.init(willDueAt: willDueAt, expiresAt: try buffer.readBrokerOptionalTimestamp())
    }
}

/// Message, delay interval, then the optional expiry interval.
extension WillMessage: BinaryFastCodable {
    public func writeBinary(to buffer: inout ByteBuffer) throws {
        try message.writeBinary(to: &buffer)
        buffer.writeFastVarint(UInt64(delayInterval))
        buffer.writeBrokerOptionalUInt32(expiryInterval)
    }

    public init(readingBinary buffer: inout ByteBuffer) throws {
        let message = try Message(readingBinary: &buffer)
        let delayInterval = try buffer.readFastVarint(as: UInt32.self)
        self.init(message: message, delayInterval: delayInterval, expiryInterval: try buffer.readBrokerOptionalUInt32())
    }
}

/// The filter as the client sent it, an options byte (QoS, No Local, Retain As Published, Retain Handling,
/// whether an identifier follows), then the identifier.
extension StoredSubscription: BinaryFastCodable {
    private enum Flag {
        static let qosMask: UInt8 = 0x03
        static let noLocal: UInt8 = 1 << 2
        static let retainAsPublished: UInt8 = 1 << 3
        static let retainHandlingShift: UInt8 = 4
        static let retainHandlingMask: UInt8 = 0x30
        static let identifier: UInt8 = 1 << 6
        static let all: UInt8 = 0x7F
    }

    public func writeBinary(to buffer: inout ByteBuffer) throws {
        buffer.writeBrokerTopicFilter(filter)
        var flags = options.qos.rawValue | options.retainHandling.rawValue << Flag.retainHandlingShift
        if options.noLocal { flags |= Flag.noLocal }
        if options.retainAsPublished { flags |= Flag.retainAsPublished }
        if identifier != nil { flags |= Flag.identifier }
        buffer.writeInteger(flags)
        if let identifier { buffer.writeFastVarint(UInt64(identifier)) }
    }

    public init(readingBinary buffer: inout ByteBuffer) throws {
        let filter = try buffer.readBrokerTopicFilter()
        let flags = try buffer.readBrokerFlags(allowed: Flag.all, of: "StoredSubscription")
        let rawHandling = (flags & Flag.retainHandlingMask) >> Flag.retainHandlingShift
        guard let retainHandling = MQTTPacket.RetainHandling(rawValue: rawHandling) else {
            throw BinaryCodingError(.valueOutOfRange, "retain handling \(rawHandling)")
        }
        let options = MQTTPacket.SubscriptionOptions(
            qos: try ByteBuffer.brokerQoS(flags & Flag.qosMask), noLocal: flags & Flag.noLocal != 0,
            retainAsPublished: flags & Flag.retainAsPublished != 0, retainHandling: retainHandling)
        let identifier = flags & Flag.identifier != 0 ? try buffer.readFastVarint(as: UInt32.self) : nil
        self.init(filter: filter, options: options, identifier: identifier)
    }
}

/// A case byte (in declaration order), then the case's values in order.
extension SessionEvent: BinaryFastCodable {
    private enum Case {
        static let attached: UInt8 = 0
        static let detached: UInt8 = 1
        static let timers: UInt8 = 2
        static let delivered: UInt8 = 3
        static let pubAck: UInt8 = 4
        static let pubRec: UInt8 = 5
        static let pubComp: UInt8 = 6
        static let receivedQoS2: UInt8 = 7
        static let releasedQoS2: UInt8 = 8
        static let subscribed: UInt8 = 9
        static let unsubscribed: UInt8 = 10
        static let count: UInt8 = 11
    }

    public func writeBinary(to buffer: inout ByteBuffer) throws {
        switch self {
        case .attached(let receiveMaximum, let expiryInterval, let will, let now):
            buffer.writeInteger(Case.attached)
            buffer.writeFastZigZag(Int64(receiveMaximum))
            buffer.writeFastVarint(UInt64(expiryInterval))
            try Self.writeWill(will, to: &buffer)
            buffer.writeBrokerTimestamp(now)
        case .detached(let expiryInterval, let will, let timers):
            buffer.writeInteger(Case.detached)
            buffer.writeFastVarint(UInt64(expiryInterval))
            try Self.writeWill(will, to: &buffer)
            try timers.writeBinary(to: &buffer)
        case .timers(let will, let timers):
            buffer.writeInteger(Case.timers)
            try Self.writeWill(will, to: &buffer)
            try timers.writeBinary(to: &buffer)
        case .delivered(let items, let now):
            buffer.writeInteger(Case.delivered)
            try items.writeBinary(to: &buffer)
            buffer.writeBrokerTimestamp(now)
        case .pubAck(let id, let now):
            buffer.writeInteger(Case.pubAck)
            buffer.writeBrokerPacketID(id)
            buffer.writeBrokerTimestamp(now)
        case .pubRec(let id, let code, let now):
            buffer.writeInteger(Case.pubRec)
            buffer.writeBrokerPacketID(id)
            buffer.writeInteger(code.rawValue)
            buffer.writeBrokerTimestamp(now)
        case .pubComp(let id, let now):
            buffer.writeInteger(Case.pubComp)
            buffer.writeBrokerPacketID(id)
            buffer.writeBrokerTimestamp(now)
        case .receivedQoS2(let id):
            buffer.writeInteger(Case.receivedQoS2)
            buffer.writeBrokerPacketID(id)
        case .releasedQoS2(let id):
            buffer.writeInteger(Case.releasedQoS2)
            buffer.writeBrokerPacketID(id)
        case .subscribed(let subscriptions):
            buffer.writeInteger(Case.subscribed)
            try subscriptions.writeBinary(to: &buffer)
        case .unsubscribed(let filters):
            buffer.writeInteger(Case.unsubscribed)
            buffer.writeFastVarint(UInt64(filters.count))
            for filter in filters { buffer.writeBrokerTopicFilter(filter) }
        }
    }

    public init(readingBinary buffer: inout ByteBuffer) throws {
        switch try buffer.readBrokerCase(count: Case.count, of: "SessionEvent") {
        case Case.attached:
            let receiveMaximum = try buffer.readFastZigZag(as: Int.self)
            let expiryInterval = try buffer.readFastVarint(as: UInt32.self)
            let will = try Self.readWill(from: &buffer)
            self = .attached(
                receiveMaximum: receiveMaximum, expiryInterval: expiryInterval, will: will,
                now: try buffer.readBrokerTimestamp())
        case Case.detached:
            let expiryInterval = try buffer.readFastVarint(as: UInt32.self)
            let will = try Self.readWill(from: &buffer)
            self = .detached(
                expiryInterval: expiryInterval, will: will, timers: try SessionTimers(readingBinary: &buffer))
        case Case.timers:
            let will = try Self.readWill(from: &buffer)
            self = .timers(will: will, timers: try SessionTimers(readingBinary: &buffer))
        case Case.delivered:
            let items = try [SessionDelivery](readingBinary: &buffer)
            self = .delivered(items, now: try buffer.readBrokerTimestamp())
        case Case.pubAck:
            let id = try buffer.readBrokerPacketID()
            self = .pubAck(id, now: try buffer.readBrokerTimestamp())
        case Case.pubRec:
            let id = try buffer.readBrokerPacketID()
            let code = MQTTReasonCode(rawValue: try buffer.readFastByte())
            self = .pubRec(id, code, now: try buffer.readBrokerTimestamp())
        case Case.pubComp:
            let id = try buffer.readBrokerPacketID()
            self = .pubComp(id, now: try buffer.readBrokerTimestamp())
        case Case.receivedQoS2:
            self = .receivedQoS2(try buffer.readBrokerPacketID())
        case Case.releasedQoS2:
            self = .releasedQoS2(try buffer.readBrokerPacketID())
        case Case.subscribed:
            self = .subscribed(try [StoredSubscription](readingBinary: &buffer))
        default:
            let count = try buffer.readFastCount()
            var filters: [TopicFilter] = []
            filters.reserveCapacity(Swift.min(count, 64))
            for _ in 0..<count { filters.append(try buffer.readBrokerTopicFilter()) }
            self = .unsubscribed(filters)
        }
    }

    private static func writeWill(_ will: WillMessage?, to buffer: inout ByteBuffer) throws {
        buffer.writeFastPresence(will != nil)
        if let will { try will.writeBinary(to: &buffer) }
    }

    private static func readWill(from buffer: inout ByteBuffer) throws -> WillMessage? {
        try buffer.readFastPresence() ? try WillMessage(readingBinary: &buffer) : nil
    }
}

/// Client identifier, sequence number, then a case byte: 0 a snapshot (in the coder's `Codable` form, as one
/// value: snapshots are rare, and the whole session state is a lot of types), 1 events, 2 drop.
extension ReplicaUpdate: BinaryFastCodable {
    public func writeBinary(to buffer: inout ByteBuffer) throws {
        buffer.writeBrokerClientID(clientID)
        buffer.writeFastVarint(sequence)
        switch change {
        case .snapshot(let snapshot):
            buffer.writeInteger(UInt8(0))
            try BinaryEncoder().encode(snapshot, into: &buffer)
        case .events(let events):
            buffer.writeInteger(UInt8(1))
            try events.writeBinary(to: &buffer)
        case .drop:
            buffer.writeInteger(UInt8(2))
        }
    }

    public init(readingBinary buffer: inout ByteBuffer) throws {
        let clientID = try buffer.readBrokerClientID()
        let sequence = try buffer.readFastVarint()
        let change: Change
        switch try buffer.readBrokerCase(count: 3, of: "ReplicaUpdate.Change") {
        case 0: change = .snapshot(try BinaryDecoder().decode(SessionSnapshot.self, from: &buffer))
        case 1: change = .events(try [SessionEvent](readingBinary: &buffer))
        default: change = .drop
        }
        self.init(clientID: clientID, sequence: sequence, change: change)
    }
}
