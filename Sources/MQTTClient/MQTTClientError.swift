import MQTTCore

/// Why a client operation failed.
public struct MQTTClientError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        /// The TCP connection or the CONNACK did not arrive within `connectTimeout`.
        case connectTimeout
        /// The server answered CONNECT with a failure reason code (see `connAck`).
        case connectionRefused
        /// The connection closed before the operation completed.
        case connectionClosed
        /// No acknowledgement arrived within `requestTimeout`.
        case requestTimeout
        /// All 65535 packet identifiers are in use.
        case packetIdentifiersExhausted
        /// The server sent something the protocol does not allow (see `reason`).
        case protocolViolation
        /// No PINGRESP arrived within one keep-alive interval.
        case keepAliveTimeout
        /// The server's bytes could not be decoded (see `reason`).
        case decodingFailed
    }

    public let code: Code
    /// A short constant phrase; never contains payload bytes.
    public let reason: String
    /// The CONNACK of a refused connection.
    public var connAck: MQTTPacket.ConnAck?

    public init(_ code: Code, _ reason: String, connAck: MQTTPacket.ConnAck? = nil) {
        self.code = code
        self.reason = reason
        self.connAck = connAck
    }

    public var description: String {
        if let connAck { return "\(code): \(reason) (reason code \(connAck.reasonCode))" }
        return "\(code): \(reason)"
    }

    static let closed = MQTTClientError(.connectionClosed, "connection closed")
}
