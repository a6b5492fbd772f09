import ClusterTransport
import MQTTCore
import NIOCore

/// Field helpers for the `BinaryFastCodable` forms of the broker's values. Every read validates as the type's own
/// validating initialiser does, and throws a `BinaryCodingError` on anything it refuses.
extension ByteBuffer {
    mutating func writeBrokerClientID(_ id: ClientID) {
        writeFastString(id.value)
    }

    mutating func readBrokerClientID() throws -> ClientID {
        let text = try readFastString()
        do {
            return try ClientID(validating: text)
        } catch {
            throw BinaryCodingError(.malformed, "invalid client identifier: \(error.reason)")
        }
    }

    mutating func writeBrokerTopicName(_ topic: TopicName) {
        writeFastString(topic.value)
    }

    mutating func readBrokerTopicName() throws -> TopicName {
        let text = try readFastString()
        do {
            return try TopicName(validating: text)
        } catch {
            throw BinaryCodingError(.malformed, "invalid topic name: \(error.reason)")
        }
    }

    /// A topic filter travels as the text the client sent; reading it parses it again (share group and all).
    mutating func writeBrokerTopicFilter(_ filter: TopicFilter) {
        writeFastString(filter.rawValue)
    }

    mutating func readBrokerTopicFilter() throws -> TopicFilter {
        let text = try readFastString()
        do {
            return try TopicFilter(validating: text)
        } catch {
            throw BinaryCodingError(.malformed, "invalid topic filter: \(error.reason)")
        }
    }

    mutating func writeBrokerPacketID(_ id: PacketID) {
        writeFastVarint(UInt64(id.rawValue))
    }

    mutating func readBrokerPacketID() throws -> PacketID {
        guard let id = PacketID(rawValue: try readFastVarint(as: UInt16.self)) else {
            throw BinaryCodingError(.valueOutOfRange, "packet identifier 0")
        }
        return id
    }

    mutating func writeBrokerTimestamp(_ time: Timestamp) {
        writeFastZigZag(time.milliseconds)
    }

    mutating func readBrokerTimestamp() throws -> Timestamp {
        Timestamp(milliseconds: try readFastZigZag())
    }

    mutating func writeBrokerOptionalTimestamp(_ time: Timestamp?) {
        writeFastPresence(time != nil)
        if let time { writeBrokerTimestamp(time) }
    }

    mutating func readBrokerOptionalTimestamp() throws -> Timestamp? {
        try readFastPresence() ? try readBrokerTimestamp() : nil
    }

    mutating func writeBrokerOptionalUInt32(_ value: UInt32?) {
        writeFastPresence(value != nil)
        if let value { writeFastVarint(UInt64(value)) }
    }

    mutating func readBrokerOptionalUInt32() throws -> UInt32? {
        try readFastPresence() ? try readFastVarint(as: UInt32.self) : nil
    }

    mutating func writeBrokerUInt32List(_ values: [UInt32]) {
        writeFastVarint(UInt64(values.count))
        for value in values { writeFastVarint(UInt64(value)) }
    }

    mutating func readBrokerUInt32List() throws -> [UInt32] {
        let count = try readFastCount()
        if count == 0 { return [] }
        var values: [UInt32] = []
        values.reserveCapacity(count)  // at most the readable bytes, 4 bytes each
        for _ in 0..<count { values.append(try readFastVarint(as: UInt32.self)) }
        return values
    }

    mutating func writeBrokerQoS(_ qos: MQTTQoS) {
        writeInteger(qos.rawValue)
    }

    mutating func readBrokerQoS() throws -> MQTTQoS {
        try Self.brokerQoS(try readFastByte())
    }

    /// The QoS with raw value `raw`; throws for anything above 2.
    static func brokerQoS(_ raw: UInt8) throws -> MQTTQoS {
        guard let qos = MQTTQoS(rawValue: raw) else {
            throw BinaryCodingError(.valueOutOfRange, "QoS \(raw)")
        }
        return qos
    }

    /// Reads a byte of flags, throwing if any bit outside `allowed` is set (a newer or corrupt writer).
    mutating func readBrokerFlags(allowed: UInt8, of type: String) throws -> UInt8 {
        let flags = try readFastByte()
        guard flags & ~allowed == 0 else {
            throw BinaryCodingError(.malformed, "unknown flags \(flags) in \(type)")
        }
        return flags
    }

    /// Reads the tag of an enum case, throwing for anything at or above `count`.
    mutating func readBrokerCase(count: UInt8, of type: String) throws -> UInt8 {
        let tag = try readFastByte()
        guard tag < count else { throw BinaryCodingError(.invalidTag, "unknown \(type) case \(tag)") }
        return tag
    }
}
