/// A violation of the MQTT protocol by the peer. Each code maps to one MQTT 5 reason code; the single place that
/// turns an error into what goes on the wire is `MQTTProtocolError.response(version:afterConnect:)`.
public struct MQTTProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        case malformedPacket
        case protocolError
        case packetTooLarge
        case unsupportedProtocolVersion
        case clientIdentifierNotValid
        case topicNameInvalid
        case topicFilterInvalid
        case topicAliasInvalid
        case receiveMaximumExceeded
        case payloadFormatInvalid
        case keepAliveTimeout
        case implementationSpecificError

        public var reasonCode: MQTTReasonCode {
            switch self {
            case .malformedPacket: .malformedPacket
            case .protocolError: .protocolError
            case .packetTooLarge: .packetTooLarge
            case .unsupportedProtocolVersion: .unsupportedProtocolVersion
            case .clientIdentifierNotValid: .clientIdentifierNotValid
            case .topicNameInvalid: .topicNameInvalid
            case .topicFilterInvalid: .topicFilterInvalid
            case .topicAliasInvalid: .topicAliasInvalid
            case .receiveMaximumExceeded: .receiveMaximumExceeded
            case .payloadFormatInvalid: .payloadFormatInvalid
            case .keepAliveTimeout: .keepAliveTimeout
            case .implementationSpecificError: .implementationSpecificError
            }
        }
    }

    public let code: Code
    /// A short constant phrase saying what was wrong; never contains payload bytes.
    public let reason: String
    /// The protocol version the peer announced, when the error happened after the CONNECT's protocol level was read.
    public var version: MQTTProtocolVersion?

    public init(_ code: Code, _ reason: String, version: MQTTProtocolVersion? = nil) {
        self.code = code
        self.reason = reason
        self.version = version
    }

    public static func malformed(_ reason: String) -> MQTTProtocolError { .init(.malformedPacket, reason) }
    public static func protocolViolation(_ reason: String) -> MQTTProtocolError { .init(.protocolError, reason) }

    public var reasonCode: MQTTReasonCode { code.reasonCode }

    public var description: String { "\(code) (\(reasonCode)): \(reason)" }
}

extension MQTTProtocolError {
    /// The packet to send before closing the connection, if any.
    ///
    /// - Before CONNECT has been accepted, a v5 client gets CONNACK with the reason code and a v3 client gets
    ///   CONNACK only for the codes 3.1.1 defines (unacceptable protocol version, identifier rejected); any other
    ///   v3 error just closes [MQTT-3.2.2-6].
    /// - After CONNECT, a v5 client gets DISCONNECT with the reason code [MQTT-4.13.1-1]; a v3 client is closed.
    /// - When the version is not known (the first packet was not a readable CONNECT), the connection is closed.
    public func response(version: MQTTProtocolVersion?, afterConnect: Bool) -> MQTTPacket? {
        guard let version else { return nil }
        if afterConnect {
            guard version == .v5 else { return nil }
            return .disconnect(.init(reasonCode: reasonCode))
        }
        switch (version, code) {
        case (.v5, _):
            return .connAck(.init(sessionPresent: false, reasonCode: reasonCode))
        case (_, .unsupportedProtocolVersion), (_, .clientIdentifierNotValid):
            return .connAck(.init(sessionPresent: false, reasonCode: reasonCode))
        default:
            return nil
        }
    }
}
