/// What the server allows a connection; advertised in CONNACK (MQTT 5) and enforced by the state machine.
public struct ConnectionLimits: Sendable, Hashable {
    /// The largest packet the server accepts, and advertises as Maximum Packet Size.
    public var maximumPacketSize: Int = 1_048_576
    /// How many QoS 1 and 2 PUBLISHes a client may have unacknowledged (advertised as Receive Maximum).
    public var receiveMaximum: UInt16 = 1024
    /// The highest topic alias a client may use.
    public var topicAliasMaximum: UInt16 = 64
    /// If non-zero, the server overrides a client keep-alive that is 0 or larger (Server Keep Alive).
    public var maximumKeepAlive: UInt16 = 0
    /// How many topic aliases the server assigns on its side, at most (bounded by the client's maximum).
    public var outboundTopicAliases: UInt16 = 64
    /// The Response Information returned when a client asks for it; `%c` is replaced by the client ID.
    public var responseInformation: String = "response/%c"
    /// Sessions never outlive their connection by more than this (seconds).
    public var maximumSessionExpiry: UInt32 = UInt32.max

    public init() {}
}
