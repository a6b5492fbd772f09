import MQTTClient
import MQTTCore
import NIOCore
import NIOPosix

/// An `MQTTClient` connected to a test node, with its incoming messages in an `Inbox` so that every wait has a
/// deadline.
final class TestClient: Sendable {
    let client: MQTTClient
    let inbox: Inbox<MQTTPacket.Publish>

    var connAck: MQTTPacket.ConnAck { client.connAck }

    private init(client: MQTTClient) {
        self.client = client
        let inbox = Inbox<MQTTPacket.Publish>()
        self.inbox = inbox
        let messages = client.messages
        Task {
            for await message in messages { inbox.append(message) }
            inbox.finish()
        }
    }

    /// The configuration the tests start from: the node's MQTT port, 10 s bounds on every wait.
    static func configuration(
        _ node: NodeProcess, _ clientID: String?, version: MQTTProtocolVersion = .v5, cleanStart: Bool = true
    ) -> MQTTClientConfiguration {
        MQTTClientConfiguration(
            host: "127.0.0.1", port: node.mqttPort, version: version, clientID: clientID.map { ClientID(stringLiteral: $0) },
            cleanStart: cleanStart, connectTimeout: .seconds(10), requestTimeout: .seconds(15))
    }

    static func connect(
        _ node: NodeProcess, _ clientID: String?, version: MQTTProtocolVersion = .v5, cleanStart: Bool = true,
        configure: (inout MQTTClientConfiguration) -> Void = { _ in }
    ) async throws -> TestClient {
        var config = configuration(node, clientID, version: version, cleanStart: cleanStart)
        configure(&config)
        return try await connect(config)
    }

    static func connect(_ config: MQTTClientConfiguration) async throws -> TestClient {
        let (client, _) = try await MQTTClient.connect(config, eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
        return TestClient(client: client)
    }

    // MARK: Requests

    @discardableResult
    func subscribe(
        _ filter: String, qos: MQTTQoS = .atLeastOnce, noLocal: Bool = false, retainAsPublished: Bool = false,
        retainHandling: MQTTPacket.RetainHandling = .sendOnSubscribe, identifier: UInt32? = nil
    ) async throws -> MQTTPacket.SubAck {
        var properties = MQTTProperties()
        if let identifier { properties.subscriptionIdentifiers = [identifier] }
        let options = MQTTPacket.SubscriptionOptions(
            qos: qos, noLocal: noLocal, retainAsPublished: retainAsPublished, retainHandling: retainHandling)
        return try await client.subscribe(
            [.init(filter: TopicFilter(stringLiteral: filter), options: options)], properties: properties)
    }

    @discardableResult
    func publish(
        _ topic: String, _ payload: String, qos: MQTTQoS = .atMostOnce, retain: Bool = false,
        properties: MQTTProperties = .init()
    ) async throws -> MQTTClient.PublishResult {
        try await client.publish(
            to: TopicName(stringLiteral: topic), payload: ByteBuffer(string: payload), qos: qos, retain: retain,
            properties: properties)
    }

    func disconnect(_ reason: MQTTReasonCode = .normalDisconnection, properties: MQTTProperties = .init()) async throws {
        try await client.disconnect(.init(reasonCode: reason, properties: properties))
    }

    /// Closes the TCP connection without DISCONNECT and waits until it is closed.
    func close() async {
        client.close()
        _ = await client.waitUntilClosed()
    }

    // MARK: Receiving

    /// The next message; throws `TimedOut` if none arrives within `timeout`.
    func next(within timeout: Duration = .seconds(10)) async throws -> MQTTPacket.Publish {
        guard let message = await inbox.next(within: timeout) else { throw TimedOut(what: "a message") }
        return message
    }

    /// Exactly the next `count` messages, in arrival order.
    func receive(_ count: Int, within timeout: Duration = .seconds(15)) async throws -> [MQTTPacket.Publish] {
        let deadline = ContinuousClock.now + timeout
        var messages: [MQTTPacket.Publish] = []
        while messages.count < count {
            guard let message = await inbox.next(within: deadline - ContinuousClock.now) else {
                throw TimedOut(what: "message \(messages.count + 1) of \(count)")
            }
            messages.append(message)
        }
        return messages
    }

    /// Messages that arrive before the one whose payload is `marker` (which is consumed). The sentinel pattern: a
    /// test publishes what must not arrive, then the marker; once the marker is here, anything that was going to
    /// arrive ahead of it has.
    func messages(before marker: String, within timeout: Duration = .seconds(10)) async throws -> [MQTTPacket.Publish] {
        let deadline = ContinuousClock.now + timeout
        var messages: [MQTTPacket.Publish] = []
        while true {
            guard let message = await inbox.next(within: deadline - ContinuousClock.now) else {
                throw TimedOut(what: "marker \(marker) (after \(messages.map(\.text)))")
            }
            if message.text == marker { return messages }
            messages.append(message)
        }
    }

    /// The next message whose topic is `topic`, skipping others.
    func next(on topic: String, within timeout: Duration = .seconds(10)) async throws -> MQTTPacket.Publish {
        let deadline = ContinuousClock.now + timeout
        while true {
            guard let message = await inbox.next(within: deadline - ContinuousClock.now) else {
                throw TimedOut(what: "a message on \(topic)")
            }
            if message.topic?.value == topic { return message }
        }
    }
}

extension MQTTPacket.Publish {
    /// The payload as UTF-8 text.
    var text: String { String(buffer: payload) }
    var topicString: String { topic?.value ?? "" }
}

extension MQTTClientError {
    /// The refused CONNACK's reason code, when this error is a refusal.
    var refusal: MQTTReasonCode? { code == .connectionRefused ? connAck?.reasonCode : nil }
}
