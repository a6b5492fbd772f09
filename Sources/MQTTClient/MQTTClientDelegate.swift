import MQTTCore

/// Receives a client's events on its event loop, for callers that drive the connection from the loop. Set it with
/// `client.onLoop().delegate`. While set, incoming PUBLISHes go here instead of `messages`.
public protocol MQTTClientDelegate: AnyObject {
    /// An incoming PUBLISH (already acknowledged when `autoAck` is on).
    func mqttClient(didReceive publish: MQTTPacket.Publish)
    /// A QoS 1 or 2 PUBLISH written through `MQTTClient.LoopView.write(_:)` completed.
    func mqttClient(didComplete result: MQTTClient.PublishResult)
    /// The channel's writability changed (the outbound buffer crossed a water mark).
    func mqttClient(writabilityChanged isWritable: Bool)
    /// The connection closed. Outstanding `LoopView` publishes will not complete.
    func mqttClient(didClose info: MQTTClient.CloseInfo)
}

extension MQTTClientDelegate {
    public func mqttClient(didReceive publish: MQTTPacket.Publish) {}
    public func mqttClient(didComplete result: MQTTClient.PublishResult) {}
    public func mqttClient(writabilityChanged isWritable: Bool) {}
    public func mqttClient(didClose info: MQTTClient.CloseInfo) {}
}
