import MQTTCore
import NIOCore

extension TopicName {
    /// `$SYS` and everything below it belong to the broker: clients may read them but not publish to them.
    var isSysTopic: Bool { value == "$SYS" || value.hasPrefix("$SYS/") }
}

extension Broker {
    /// The `$SYS` messages describing this node right now (EMQX's `$SYS/brokers/<node>/…` layout). They are
    /// retained, so a subscriber sees the latest values at once.
    public func sysMessages() async -> [Message] {
        let now = clock.now()
        let m = metrics.snapshot()
        let base = "$SYS/brokers/\(configuration.nodeName)"
        var subscriptionCount = 0
        for shard in shards { subscriptionCount += (try? await shard.subscriptionCount()) ?? 0 }
        var retainedCount = 0
        for store in retained { retainedCount += (try? await store.count()) ?? 0 }
        let values: [(String, String)] = [
            ("version", configuration.version),
            ("uptime", String(startedAt.secondsUntil(now))),
            // Clients whose CONNECT was accepted and whose session is attached: it drops once a session has
            // processed its client's DISCONNECT, not merely when the socket closes.
            ("clients/connected", String(sessions.onlineCount)),
            ("clients/total", String(m.connectionsTotal)),
            ("sessions/count", String(sessions.count)),
            ("subscriptions/count", String(subscriptionCount)),
            ("retained/count", String(retainedCount)),
            ("messages/received", String(m.messagesReceived)),
            ("messages/sent", String(m.messagesSent)),
            ("messages/dropped", String(m.messagesDropped)),
        ]
        return values.compactMap { suffix, value in
            guard let topic = try? TopicName(validating: "\(base)/\(suffix)") else { return nil }
            return Message(topic: topic, payload: ByteBuffer(string: value), qos: .atMostOnce, retain: true)
        }
    }

    /// Removes expired retained messages every `interval` until the task is cancelled (they are already hidden
    /// from subscribers; this frees their memory).
    public func runHousekeeping(interval: Duration = .seconds(5)) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            for store in retained { _ = try? await store.removeExpired() }
        }
    }

    /// Publishes `$SYS` every `sysInterval` seconds until the task is cancelled.
    public func runSysPublisher() async {
        let interval = configuration.sysInterval
        guard interval > 0 else { return }
        while !Task.isCancelled {
            let messages = await sysMessages()
            let codes = await publish(messages, authorize: false)
            logger.debug("published $SYS", metadata: ["sys/messages": "\(messages.count)", "sys/delivered": "\(codes.filter { $0 == .success }.count)"])
            try? await Task.sleep(for: .seconds(Int(interval)))
        }
    }
}
