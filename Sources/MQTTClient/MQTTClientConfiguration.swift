import MQTTCore
import NIOCore

/// Everything `MQTTClient.connect` needs. The defaults connect to 127.0.0.1:1883 with MQTT 3.1.1 and a clean start.
public struct MQTTClientConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// MQTT 3.1.1 or 5.0 (3.1 works too).
    public var version: MQTTProtocolVersion
    /// nil sends an empty client identifier, which asks the server to assign one.
    public var clientID: ClientID?
    public var cleanStart: Bool
    /// Sent in CONNECT; when above zero the client sends PINGREQ this often. Whole seconds, at most 65535.
    public var keepAlive: Duration
    public var username: String?
    public var password: ByteBuffer?
    public var will: MQTTPacket.Will?
    /// Properties of CONNECT (MQTT 5 only), such as the Session Expiry Interval or the Receive Maximum.
    public var connectProperties: MQTTProperties
    /// Bounds the TCP connect and the wait for CONNACK, each.
    public var connectTimeout: Duration
    /// Bounds the wait for SUBACK, UNSUBACK and the PUBLISH acknowledgements of the async API; nil waits forever.
    public var requestTimeout: Duration?
    /// A local address to connect from (for example 127.0.0.2), so that many connections can be spread over several
    /// source addresses. The port is chosen by the kernel at connect time (IP_BIND_ADDRESS_NO_PORT).
    public var bindAddress: String?
    /// When true (the default) incoming QoS 1 and 2 messages are acknowledged as they arrive. When false the
    /// application acknowledges each one with `MQTTClient.ack(_:)`; PUBREL is always answered.
    public var autoAck: Bool
    /// The largest packet the decoder accepts from the server.
    public var maximumPacketSize: Int

    public init(
        host: String = "127.0.0.1", port: Int = 1883, version: MQTTProtocolVersion = .v3_1_1,
        clientID: ClientID? = nil, cleanStart: Bool = true, keepAlive: Duration = .seconds(60),
        username: String? = nil, password: ByteBuffer? = nil, will: MQTTPacket.Will? = nil,
        connectProperties: MQTTProperties = .init(), connectTimeout: Duration = .seconds(10),
        requestTimeout: Duration? = .seconds(30), bindAddress: String? = nil, autoAck: Bool = true,
        maximumPacketSize: Int = 268_435_460
    ) {
        self.host = host
        self.port = port
        self.version = version
        self.clientID = clientID
        self.cleanStart = cleanStart
        self.keepAlive = keepAlive
        self.username = username
        self.password = password
        self.will = will
        self.connectProperties = connectProperties
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.bindAddress = bindAddress
        self.autoAck = autoAck
        self.maximumPacketSize = maximumPacketSize
    }

    /// The keep-alive in whole seconds as CONNECT carries it.
    var keepAliveSeconds: UInt16 { UInt16(clamping: keepAlive.components.seconds) }

    /// The CONNECT packet this configuration sends.
    var connectPacket: MQTTPacket.Connect {
        MQTTPacket.Connect(
            version: version, clientID: clientID?.value ?? "", cleanStart: cleanStart, keepAlive: keepAliveSeconds,
            username: username, password: password, will: will,
            properties: version == .v5 ? connectProperties : .init())
    }
}

extension Duration {
    /// The duration as NIO's `TimeAmount` (nanosecond precision, saturating).
    var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        let nanos = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if nanos.overflow { return .nanoseconds(seconds < 0 ? .min : .max) }
        return .nanoseconds(nanos.partialValue + attoseconds / 1_000_000_000)
    }
}
