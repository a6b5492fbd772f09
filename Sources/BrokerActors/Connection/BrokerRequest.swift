import MQTTCore

/// What a connection asks of the broker, in the order its packets arrived.
public enum BrokerRequest: Sendable {
    case connect(ConnectRequest)
    case publish(Message, packetID: PacketID?)
    case subscribe(MQTTPacket.Subscribe)
    case unsubscribe(MQTTPacket.Unsubscribe)
    case pubAck(PacketID)
    case pubRec(PacketID, MQTTReasonCode)
    case pubComp(PacketID)
    case pubRel(PacketID)
    /// DISCONNECT from the client; `publishWill` is true for reason 0x04.
    case disconnect(publishWill: Bool, sessionExpiry: UInt32?)
    /// The connection ended without DISCONNECT (network, keep-alive or protocol error): the will is due.
    case connectionLost
}

/// The validated content of a CONNECT.
public struct ConnectRequest: Sendable, Codable {
    public var clientID: ClientID
    /// True when the server made the identifier up (empty client ID).
    public var assignedClientID: Bool
    public var version: MQTTProtocolVersion
    public var cleanStart: Bool
    public var sessionExpiryInterval: UInt32
    public var receiveMaximum: Int
    public var will: WillMessage?
    public var username: String?
    public var password: [UInt8]?
}

/// The broker's answer to a request, fed back into the connection state machine.
public enum BrokerResponse: Sendable {
    case connected(ConnectOutcome)
    case published(PacketID, MQTTQoS, MQTTReasonCode)
    case released(PacketID, found: Bool)
    case subscribed(PacketID, [MQTTReasonCode])
    case unsubscribed(PacketID, [MQTTReasonCode])
}

public struct ConnectOutcome: Sendable, Codable {
    public var reasonCode: MQTTReasonCode
    public var sessionPresent: Bool
    /// Packets the session resends once CONNACK is out (unacknowledged messages, then queued ones).
    public var resend: [SessionOutput]
    /// The session the connection is attached to (on this node or on its owner); nil when refused.
    public var session: SessionActor?

    public init(
        reasonCode: MQTTReasonCode, sessionPresent: Bool = false, resend: [SessionOutput] = [], session: SessionActor? = nil
    ) {
        self.reasonCode = reasonCode
        self.sessionPresent = sessionPresent
        self.resend = resend
        self.session = session
    }
}
