import MQTTCore

extension MQTTClient {
    /// The outcome of an outgoing PUBLISH.
    public struct PublishResult: Sendable, Hashable {
        /// The identifier the PUBLISH was sent with; nil for QoS 0.
        public var packetID: PacketID?
        /// QoS 0: success once written. QoS 1: the PUBACK's code. QoS 2: the PUBCOMP's code, or the PUBREC's when
        /// that was a failure (the exchange then ends there).
        public var reasonCode: MQTTReasonCode
        /// The properties of the final acknowledgement (MQTT 5).
        public var properties: MQTTProperties

        public init(packetID: PacketID?, reasonCode: MQTTReasonCode = .success, properties: MQTTProperties = .init()) {
            self.packetID = packetID
            self.reasonCode = reasonCode
            self.properties = properties
        }
    }

    /// How the connection ended.
    public struct CloseInfo: Sendable, Hashable {
        /// The DISCONNECT the server sent before closing, if any (MQTT 5 servers send one with a reason code).
        public var serverDisconnect: MQTTPacket.Disconnect?
        /// What went wrong on our side, if anything (a decoding failure, a keep-alive timeout, ...).
        public var error: MQTTClientError?
    }
}
