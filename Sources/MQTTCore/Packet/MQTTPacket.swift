import NIOCore

/// One MQTT control packet, version-independent. Fields that exist only in MQTT 5 (properties, most reason codes)
/// are ignored when encoding for 3.1/3.1.1 and take their defaults when decoding those versions.
public enum MQTTPacket: Sendable, Hashable {
    case connect(Connect)
    case connAck(ConnAck)
    case publish(Publish)
    case pubAck(PubAck)
    case pubRec(PubAck)
    case pubRel(PubAck)
    case pubComp(PubAck)
    case subscribe(Subscribe)
    case subAck(SubAck)
    case unsubscribe(Unsubscribe)
    case unsubAck(UnsubAck)
    case pingReq
    case pingResp
    case disconnect(Disconnect)
    case auth(Auth)

    /// The control packet type (the high nibble of the first byte).
    public enum Kind: UInt8, Sendable, Hashable, CaseIterable {
        case connect = 1, connAck, publish, pubAck, pubRec, pubRel, pubComp, subscribe, subAck, unsubscribe
        case unsubAck, pingReq, pingResp, disconnect, auth
    }

    public var kind: Kind {
        switch self {
        case .connect: .connect
        case .connAck: .connAck
        case .publish: .publish
        case .pubAck: .pubAck
        case .pubRec: .pubRec
        case .pubRel: .pubRel
        case .pubComp: .pubComp
        case .subscribe: .subscribe
        case .subAck: .subAck
        case .unsubscribe: .unsubscribe
        case .unsubAck: .unsubAck
        case .pingReq: .pingReq
        case .pingResp: .pingResp
        case .disconnect: .disconnect
        case .auth: .auth
        }
    }
}

extension MQTTPacket {
    /// The Last Will carried in CONNECT.
    public struct Will: Sendable, Hashable {
        public var topic: TopicName
        public var payload: ByteBuffer
        public var qos: MQTTQoS
        public var retain: Bool
        public var properties: MQTTProperties

        public init(
            topic: TopicName, payload: ByteBuffer, qos: MQTTQoS = .atMostOnce, retain: Bool = false,
            properties: MQTTProperties = .init()
        ) {
            self.topic = topic
            self.payload = payload
            self.qos = qos
            self.retain = retain
            self.properties = properties
        }
    }

    public struct Connect: Sendable, Hashable {
        public var version: MQTTProtocolVersion
        public var clientID: String
        public var cleanStart: Bool
        public var keepAlive: UInt16
        public var username: String?
        public var password: ByteBuffer?
        public var will: Will?
        public var properties: MQTTProperties

        public init(
            version: MQTTProtocolVersion, clientID: String, cleanStart: Bool = true, keepAlive: UInt16 = 60,
            username: String? = nil, password: ByteBuffer? = nil, will: Will? = nil,
            properties: MQTTProperties = .init()
        ) {
            self.version = version
            self.clientID = clientID
            self.cleanStart = cleanStart
            self.keepAlive = keepAlive
            self.username = username
            self.password = password
            self.will = will
            self.properties = properties
        }
    }

    public struct ConnAck: Sendable, Hashable {
        public var sessionPresent: Bool
        public var reasonCode: MQTTReasonCode
        public var properties: MQTTProperties

        public init(sessionPresent: Bool, reasonCode: MQTTReasonCode = .success, properties: MQTTProperties = .init()) {
            self.sessionPresent = sessionPresent
            self.reasonCode = reasonCode
            self.properties = properties
        }
    }

    public struct Publish: Sendable, Hashable {
        /// nil when the packet carried an empty topic name, which MQTT 5 allows together with a Topic Alias.
        public var topic: TopicName?
        public var payload: ByteBuffer
        public var qos: MQTTQoS
        public var retain: Bool
        public var dup: Bool
        /// Present exactly when `qos` is above 0.
        public var packetID: PacketID?
        public var properties: MQTTProperties

        public init(
            topic: TopicName?, payload: ByteBuffer, qos: MQTTQoS = .atMostOnce, retain: Bool = false,
            dup: Bool = false, packetID: PacketID? = nil, properties: MQTTProperties = .init()
        ) {
            self.topic = topic
            self.payload = payload
            self.qos = qos
            self.retain = retain
            self.dup = dup
            self.packetID = packetID
            self.properties = properties
        }
    }

    /// PUBACK, PUBREC, PUBREL and PUBCOMP share this shape.
    public struct PubAck: Sendable, Hashable {
        public var packetID: PacketID
        public var reasonCode: MQTTReasonCode
        public var properties: MQTTProperties

        public init(packetID: PacketID, reasonCode: MQTTReasonCode = .success, properties: MQTTProperties = .init()) {
            self.packetID = packetID
            self.reasonCode = reasonCode
            self.properties = properties
        }
    }

    /// What Retain Handling asks for at subscribe time (MQTT 5, 3.8.3.1).
    public enum RetainHandling: UInt8, Sendable, Hashable, Codable {
        case sendOnSubscribe = 0
        case sendOnNewSubscribe = 1
        case doNotSend = 2
    }

    public struct SubscriptionOptions: Sendable, Hashable, Codable {
        public var qos: MQTTQoS
        public var noLocal: Bool
        public var retainAsPublished: Bool
        public var retainHandling: RetainHandling

        public init(
            qos: MQTTQoS, noLocal: Bool = false, retainAsPublished: Bool = false,
            retainHandling: RetainHandling = .sendOnSubscribe
        ) {
            self.qos = qos
            self.noLocal = noLocal
            self.retainAsPublished = retainAsPublished
            self.retainHandling = retainHandling
        }
    }

    public struct Subscription: Sendable, Hashable {
        public var filter: TopicFilter
        public var options: SubscriptionOptions
        public init(filter: TopicFilter, options: SubscriptionOptions) {
            self.filter = filter
            self.options = options
        }
    }

    public struct Subscribe: Sendable, Hashable {
        public var packetID: PacketID
        public var subscriptions: [Subscription]
        public var properties: MQTTProperties
        public init(packetID: PacketID, subscriptions: [Subscription], properties: MQTTProperties = .init()) {
            self.packetID = packetID
            self.subscriptions = subscriptions
            self.properties = properties
        }
    }

    public struct SubAck: Sendable, Hashable {
        public var packetID: PacketID
        /// One per subscription: a granted QoS (0x00-0x02) or a failure code. v3.1.1 encodes failures as 0x80.
        public var reasonCodes: [MQTTReasonCode]
        public var properties: MQTTProperties
        public init(packetID: PacketID, reasonCodes: [MQTTReasonCode], properties: MQTTProperties = .init()) {
            self.packetID = packetID
            self.reasonCodes = reasonCodes
            self.properties = properties
        }
    }

    public struct Unsubscribe: Sendable, Hashable {
        public var packetID: PacketID
        public var filters: [TopicFilter]
        public var properties: MQTTProperties
        public init(packetID: PacketID, filters: [TopicFilter], properties: MQTTProperties = .init()) {
            self.packetID = packetID
            self.filters = filters
            self.properties = properties
        }
    }

    public struct UnsubAck: Sendable, Hashable {
        public var packetID: PacketID
        /// One per filter in MQTT 5; empty in 3.1.1, which has no payload.
        public var reasonCodes: [MQTTReasonCode]
        public var properties: MQTTProperties
        public init(packetID: PacketID, reasonCodes: [MQTTReasonCode] = [], properties: MQTTProperties = .init()) {
            self.packetID = packetID
            self.reasonCodes = reasonCodes
            self.properties = properties
        }
    }

    public struct Disconnect: Sendable, Hashable {
        public var reasonCode: MQTTReasonCode
        public var properties: MQTTProperties
        public init(reasonCode: MQTTReasonCode = .normalDisconnection, properties: MQTTProperties = .init()) {
            self.reasonCode = reasonCode
            self.properties = properties
        }
    }

    public struct Auth: Sendable, Hashable {
        public var reasonCode: MQTTReasonCode
        public var properties: MQTTProperties
        public init(reasonCode: MQTTReasonCode = .success, properties: MQTTProperties = .init()) {
            self.reasonCode = reasonCode
            self.properties = properties
        }
    }
}
