import MQTTClient
import MQTTCore
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// The checks `Bench check` runs. Each one uses its own topics and client identifiers (tagged with the process id)
/// and waits for conditions with deadlines, never with a bare sleep.
struct ClientChecks: Sendable {
    let connection: ConnectionOptions
    let group: MultiThreadedEventLoopGroup
    let wrapMessages: Int

    typealias Check = @Sendable () async throws -> Void

    var all: [(String, Check)] {
        [
            ("pubsub qos 0/1/2", pubSub),
            ("unsubscribe", unsubscribe),
            ("manual ack and redelivery after reconnect (qos 1)", redelivery),
            ("manual ack qos 2 completes", manualQoS2),
            ("will on abrupt close", will),
            ("packet identifier wraparound", wraparound),
            ("session takeover closes the old connection", takeover),
            ("keep-alive pings keep an idle connection open", keepAlive),
            ("malformed bytes make the server close", malformed),
        ]
    }

    private var tag: String { "\(getpid())" }
    private var v5: Bool { connection.version == .v5 }

    private func topic(_ name: String) -> TopicName { TopicName(stringLiteral: "bench/check/\(tag)/\(name)") }

    private func connect(
        _ name: String, cleanStart: Bool = true, autoAck: Bool = true, keepAlive: Duration = .seconds(30),
        will: MQTTPacket.Will? = nil, sessionExpiry: UInt32? = nil
    ) async throws -> (MQTTClient, MQTTPacket.ConnAck) {
        var configuration = connection.configuration(role: .conn, index: 0, autoAck: autoAck)
        configuration.clientID = try ClientID(validating: "check-\(tag)-\(name)")
        configuration.cleanStart = cleanStart
        configuration.keepAlive = keepAlive
        configuration.will = will
        configuration.requestTimeout = .seconds(10)
        if let sessionExpiry { configuration.connectProperties.sessionExpiryInterval = sessionExpiry }
        return try await MQTTClient.connect(configuration, eventLoopGroup: group)
    }

    private func payload(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    // MARK: Checks

    func pubSub() async throws {
        let (subscriber, _) = try await connect("pubsub-sub")
        let received = MessageCollector(subscriber)
        let ack = try await subscriber.subscribe(to: TopicFilter(stringLiteral: topic("pubsub").value), qos: .exactlyOnce)
        try expect(ack.reasonCodes == [.grantedQoS2], "SUBACK \(ack.reasonCodes)")
        let (publisher, _) = try await connect("pubsub-pub")
        for qos in MQTTQoS.allCases {
            let result = try await publisher.publish(to: topic("pubsub"), payload: payload("q\(qos.rawValue)"), qos: qos)
            try expect(!result.reasonCode.isFailure, "publish qos \(qos.rawValue) got \(result.reasonCode)")
            try expect((result.packetID == nil) == (qos == .atMostOnce), "packet identifier \(String(describing: result.packetID))")
        }
        let messages = try await received.waitFor(3)
        try expect(messages.map { String(buffer: $0.payload) } == ["q0", "q1", "q2"], "payloads \(messages.map { String(buffer: $0.payload) })")
        try expect(messages.map(\.qos) == MQTTQoS.allCases, "qos \(messages.map(\.qos))")
        try await publisher.disconnect()
        try await subscriber.disconnect()
    }

    func unsubscribe() async throws {
        let (client, _) = try await connect("unsub")
        let received = MessageCollector(client)
        _ = try await client.subscribe([
            .init(filter: TopicFilter(stringLiteral: topic("unsub/a").value), options: .init(qos: .atLeastOnce)),
            .init(filter: TopicFilter(stringLiteral: topic("unsub/b").value), options: .init(qos: .atLeastOnce)),
        ])
        let ack = try await client.unsubscribe([TopicFilter(stringLiteral: topic("unsub/a").value)])
        try expect(!v5 || ack.reasonCodes == [.success], "UNSUBACK \(ack.reasonCodes)")
        _ = try await client.publish(to: topic("unsub/a"), payload: payload("a"), qos: .atLeastOnce)
        _ = try await client.publish(to: topic("unsub/b"), payload: payload("b"), qos: .atLeastOnce)
        // b was published after a on the same connection, so once b is here a would have been too.
        let messages = try await received.waitFor(1)
        try expect(messages.map { String(buffer: $0.payload) } == ["b"], "received \(messages.map { String(buffer: $0.payload) })")
        try await client.disconnect()
    }

    func redelivery() async throws {
        // v5 keeps the session through the Session Expiry Interval; 3.1.1 through Clean Session = 0.
        let expiry: UInt32? = v5 ? 60 : nil
        let (first, _) = try await connect("redeliver", cleanStart: v5, autoAck: false, sessionExpiry: expiry)
        let firstReceived = MessageCollector(first)
        _ = try await first.subscribe(to: TopicFilter(stringLiteral: topic("redeliver").value), qos: .atLeastOnce)
        let (publisher, _) = try await connect("redeliver-pub")
        _ = try await publisher.publish(to: topic("redeliver"), payload: payload("again"), qos: .atLeastOnce)
        let original = try await firstReceived.waitFor(1)[0]
        try expect(!original.dup, "first delivery has DUP set")
        first.close()  // without PUBACK
        _ = try await waitForClose(first)

        let (second, connAck) = try await connect("redeliver", cleanStart: false, autoAck: false, sessionExpiry: expiry)
        try expect(connAck.sessionPresent, "session not present after reconnect")
        let redelivered = try await MessageCollector(second).waitFor(1)[0]
        try expect(String(buffer: redelivered.payload) == "again", "redelivered payload differs")
        try expect(redelivered.dup, "redelivery without DUP")
        try expect(redelivered.packetID == original.packetID, "redelivery changed the packet identifier")
        second.ack(redelivered)
        try await second.disconnect()
        // Leave no session behind.
        let (cleanup, _) = try await connect("redeliver", cleanStart: true, sessionExpiry: v5 ? 0 : nil)
        try await cleanup.disconnect()
        try await publisher.disconnect()
    }

    func manualQoS2() async throws {
        let (subscriber, _) = try await connect("manual2", autoAck: false)
        let received = MessageCollector(subscriber)
        _ = try await subscriber.subscribe(to: TopicFilter(stringLiteral: topic("manual2").value), qos: .exactlyOnce)
        let (publisher, _) = try await connect("manual2-pub")
        // The publisher's PUBCOMP does not depend on the subscriber; publish two and ack both.
        for text in ["one", "two"] {
            _ = try await publisher.publish(to: topic("manual2"), payload: payload(text), qos: .exactlyOnce)
        }
        let messages = try await received.waitFor(2)
        messages.forEach(subscriber.ack)
        // A QoS 1 round trip after the acks: it is answered only after the broker read our PUBRECs and PUBCOMPs.
        let result = try await subscriber.publish(to: topic("manual2-after"), payload: payload("x"), qos: .atLeastOnce)
        try expect(!result.reasonCode.isFailure, "publish after acks got \(result.reasonCode)")
        try await subscriber.disconnect()
        try await publisher.disconnect()
    }

    func will() async throws {
        let (watcher, _) = try await connect("will-watch")
        let received = MessageCollector(watcher)
        _ = try await watcher.subscribe(to: TopicFilter(stringLiteral: topic("will").value), qos: .atLeastOnce)
        let will = MQTTPacket.Will(topic: topic("will"), payload: payload("gone"), qos: .atLeastOnce)
        let (dying, _) = try await connect("will-dying", will: will)
        dying.close()
        let messages = try await received.waitFor(1)
        try expect(String(buffer: messages[0].payload) == "gone", "will payload differs")
        try await watcher.disconnect()
    }

    func wraparound() async throws {
        let (client, _) = try await connect("wrap")
        let count = wrapMessages
        let workers = 64
        let results = try await concurrentMap(workers, limit: workers) { worker -> [UInt16] in
            var ids: [UInt16] = []
            var index = worker
            while index < count {
                let result = try await client.publish(to: topic("wrap"), payload: ByteBuffer(), qos: .atLeastOnce)
                guard !result.reasonCode.isFailure, let id = result.packetID else {
                    throw BenchError("publish \(index) got \(result.reasonCode)")
                }
                ids.append(id.rawValue)
                index += workers
            }
            return ids
        }
        let ids = results.flatMap { $0 }
        try expect(ids.count == count, "\(ids.count) of \(count) acknowledged")
        if count > 65_535 {
            try expect(ids.filter { $0 == 1 }.count >= 2, "identifier 1 was not reused after wrapping")
            try expect(ids.max() == 65_535, "identifier 65535 never used")
        }
        try await client.disconnect()
    }

    func takeover() async throws {
        let (first, _) = try await connect("takeover")
        let (second, _) = try await connect("takeover")
        let info = try await waitForClose(first)
        // MQTT 5 servers should send DISCONNECT 0x8E first; mosquitto 2.0 just closes, so only its code is checked.
        if let disconnect = info.serverDisconnect {
            try expect(disconnect.reasonCode == .sessionTakenOver, "old connection got \(info)")
        }
        try await second.disconnect()
    }

    func keepAlive() async throws {
        let (client, _) = try await connect("keepalive", keepAlive: .seconds(1))
        // The broker drops a silent client after 1.5 keep-alive periods; survive three periods on pings alone.
        do {
            let info = try await waitForClose(client, timeout: .seconds(3))
            throw BenchError("closed during keep-alive: \(info)")
        } catch let error as BenchError where error.description.hasPrefix("still connected") {}
        let result = try await client.publish(to: topic("keepalive"), payload: payload("x"), qos: .atLeastOnce)
        try expect(!result.reasonCode.isFailure, "publish after idle got \(result.reasonCode)")
        try await client.disconnect()
    }

    func malformed() async throws {
        let (client, _) = try await connect("malformed")
        // PUBLISH with QoS 3, which no version allows [MQTT-3.3.1-4].
        try await client.sendRawBytes(ByteBuffer(bytes: [0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]))
        _ = try await waitForClose(client)
    }
}
