/// The MQTT protocol level carried in CONNECT.
public enum MQTTProtocolVersion: UInt8, Sendable, Hashable, Codable, CustomStringConvertible {
    /// MQTT 3.1 (protocol name "MQIsdp").
    case v3_1 = 3
    /// MQTT 3.1.1 (protocol name "MQTT").
    case v3_1_1 = 4
    /// MQTT 5.0 (protocol name "MQTT").
    case v5 = 5

    /// The protocol name that must accompany this level in CONNECT.
    public var protocolName: String { self == .v3_1 ? "MQIsdp" : "MQTT" }

    /// Whether packets of this version carry properties and reason codes.
    public var hasProperties: Bool { self == .v5 }

    public var description: String {
        switch self {
        case .v3_1: "3.1"
        case .v3_1_1: "3.1.1"
        case .v5: "5.0"
        }
    }
}

/// Quality of service levels.
public enum MQTTQoS: UInt8, Sendable, Hashable, Comparable, CaseIterable, Codable {
    case atMostOnce = 0
    case atLeastOnce = 1
    case exactlyOnce = 2

    public static func < (lhs: MQTTQoS, rhs: MQTTQoS) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A packet identifier (1...65535); zero is never valid on the wire.
public struct PacketID: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: UInt16

    /// Returns nil for 0, which the spec forbids [MQTT-2.2.1-3].
    public init?(rawValue: UInt16) {
        guard rawValue != 0 else { return nil }
        self.rawValue = rawValue
    }

    /// The identifier that follows this one, wrapping from 65535 to 1.
    public var next: PacketID { PacketID(rawValue: rawValue == .max ? 1 : rawValue + 1)! }

    public var description: String { String(rawValue) }
}
