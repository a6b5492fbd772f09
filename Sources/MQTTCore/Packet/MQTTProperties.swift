import NIOCore

/// One MQTT 5 user property (a UTF-8 string pair). Order and duplicates are preserved [MQTT-3.3.2-18].
public struct MQTTUserProperty: Sendable, Hashable, Codable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// The MQTT 5 property identifiers (Table 2-4).
public enum MQTTPropertyID: UInt8, Sendable, CaseIterable {
    case payloadFormatIndicator = 0x01
    case messageExpiryInterval = 0x02
    case contentType = 0x03
    case responseTopic = 0x08
    case correlationData = 0x09
    case subscriptionIdentifier = 0x0B
    case sessionExpiryInterval = 0x11
    case assignedClientIdentifier = 0x12
    case serverKeepAlive = 0x13
    case authenticationMethod = 0x15
    case authenticationData = 0x16
    case requestProblemInformation = 0x17
    case willDelayInterval = 0x18
    case requestResponseInformation = 0x19
    case responseInformation = 0x1A
    case serverReference = 0x1C
    case reasonString = 0x1F
    case receiveMaximum = 0x21
    case topicAliasMaximum = 0x22
    case topicAlias = 0x23
    case maximumQoS = 0x24
    case retainAvailable = 0x25
    case userProperty = 0x26
    case maximumPacketSize = 0x27
    case wildcardSubscriptionAvailable = 0x28
    case subscriptionIdentifierAvailable = 0x29
    case sharedSubscriptionAvailable = 0x2A
}

/// The set of MQTT 5 properties a packet may carry. Each property is a typed optional; `nil` means absent.
/// `subscriptionIdentifiers` may repeat (PUBLISH); `userProperties` may repeat anywhere.
public struct MQTTProperties: Sendable, Hashable {
    public var payloadFormatIndicator: UInt8?
    public var messageExpiryInterval: UInt32?
    public var contentType: String?
    public var responseTopic: String?
    public var correlationData: ByteBuffer?
    public var subscriptionIdentifiers: [UInt32] = []
    public var sessionExpiryInterval: UInt32?
    public var assignedClientIdentifier: String?
    public var serverKeepAlive: UInt16?
    public var authenticationMethod: String?
    public var authenticationData: ByteBuffer?
    public var requestProblemInformation: UInt8?
    public var willDelayInterval: UInt32?
    public var requestResponseInformation: UInt8?
    public var responseInformation: String?
    public var serverReference: String?
    public var reasonString: String?
    public var receiveMaximum: UInt16?
    public var topicAliasMaximum: UInt16?
    public var topicAlias: UInt16?
    public var maximumQoS: UInt8?
    public var retainAvailable: UInt8?
    public var userProperties: [MQTTUserProperty] = []
    public var maximumPacketSize: UInt32?
    public var wildcardSubscriptionAvailable: UInt8?
    public var subscriptionIdentifierAvailable: UInt8?
    public var sharedSubscriptionAvailable: UInt8?

    public init() {}

    public var isEmpty: Bool { self == MQTTProperties() }

    /// The identifiers of the properties that are present, in a stable order (repeated ones once).
    public var presentIDs: [MQTTPropertyID] {
        var ids: [MQTTPropertyID] = []
        if payloadFormatIndicator != nil { ids.append(.payloadFormatIndicator) }
        if messageExpiryInterval != nil { ids.append(.messageExpiryInterval) }
        if contentType != nil { ids.append(.contentType) }
        if responseTopic != nil { ids.append(.responseTopic) }
        if correlationData != nil { ids.append(.correlationData) }
        if !subscriptionIdentifiers.isEmpty { ids.append(.subscriptionIdentifier) }
        if sessionExpiryInterval != nil { ids.append(.sessionExpiryInterval) }
        if assignedClientIdentifier != nil { ids.append(.assignedClientIdentifier) }
        if serverKeepAlive != nil { ids.append(.serverKeepAlive) }
        if authenticationMethod != nil { ids.append(.authenticationMethod) }
        if authenticationData != nil { ids.append(.authenticationData) }
        if requestProblemInformation != nil { ids.append(.requestProblemInformation) }
        if willDelayInterval != nil { ids.append(.willDelayInterval) }
        if requestResponseInformation != nil { ids.append(.requestResponseInformation) }
        if responseInformation != nil { ids.append(.responseInformation) }
        if serverReference != nil { ids.append(.serverReference) }
        if reasonString != nil { ids.append(.reasonString) }
        if receiveMaximum != nil { ids.append(.receiveMaximum) }
        if topicAliasMaximum != nil { ids.append(.topicAliasMaximum) }
        if topicAlias != nil { ids.append(.topicAlias) }
        if maximumQoS != nil { ids.append(.maximumQoS) }
        if retainAvailable != nil { ids.append(.retainAvailable) }
        if !userProperties.isEmpty { ids.append(.userProperty) }
        if maximumPacketSize != nil { ids.append(.maximumPacketSize) }
        if wildcardSubscriptionAvailable != nil { ids.append(.wildcardSubscriptionAvailable) }
        if subscriptionIdentifierAvailable != nil { ids.append(.subscriptionIdentifierAvailable) }
        if sharedSubscriptionAvailable != nil { ids.append(.sharedSubscriptionAvailable) }
        return ids
    }
}

/// Which packet (or the will in CONNECT) a property block belongs to; used to reject properties that are not
/// allowed where they appear [MQTT-2.2.2-2].
public enum MQTTPropertyContext: Sendable, Hashable {
    case connect, will, connAck, publish, pubAck, pubRec, pubRel, pubComp
    case subscribe, subAck, unsubscribe, unsubAck, disconnect, auth

    public func allows(_ id: MQTTPropertyID) -> Bool {
        switch id {
        case .userProperty: return true
        case .reasonString:
            return ![.connect, .will, .publish, .subscribe, .unsubscribe].contains(self)
        case .payloadFormatIndicator, .messageExpiryInterval, .contentType, .responseTopic, .correlationData:
            return self == .publish || self == .will
        case .subscriptionIdentifier: return self == .publish || self == .subscribe
        case .sessionExpiryInterval: return self == .connect || self == .connAck || self == .disconnect
        case .assignedClientIdentifier, .serverKeepAlive, .responseInformation, .maximumQoS, .retainAvailable,
            .wildcardSubscriptionAvailable, .subscriptionIdentifierAvailable, .sharedSubscriptionAvailable:
            return self == .connAck
        case .authenticationMethod, .authenticationData:
            return self == .connect || self == .connAck || self == .auth
        case .requestProblemInformation, .requestResponseInformation: return self == .connect
        case .willDelayInterval: return self == .will
        case .serverReference: return self == .connAck || self == .disconnect
        case .receiveMaximum, .topicAliasMaximum, .maximumPacketSize: return self == .connect || self == .connAck
        case .topicAlias: return self == .publish
        }
    }
}
