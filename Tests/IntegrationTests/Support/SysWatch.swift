import MQTTCore

extension TestClient {
    /// Subscribes to one `$SYS/brokers/<node>/<suffix>` counter (published every second by the test nodes).
    func watchSys(_ suffix: String) async throws {
        try await subscribe("$SYS/brokers/+/\(suffix)", qos: .atMostOnce)
    }

    /// Reads messages until a `$SYS` message whose topic ends in `/<suffix>` has a value for which `done` holds;
    /// returns the other (non-`$SYS`) messages that came first.
    ///
    /// This is the sentinel for "the broker has finished with X": for example `sessions/count` drops only after a
    /// session's detach has completed, will included, and the `$SYS` message is routed after anything that detach
    /// published, so a will that should not exist would be in the returned list.
    func messages(
        untilSys suffix: String, within timeout: Duration = .seconds(15), _ done: (Int) -> Bool
    ) async throws -> [MQTTPacket.Publish] {
        let deadline = ContinuousClock.now + timeout
        var others: [MQTTPacket.Publish] = []
        var last = "-"
        while true {
            guard let message = await inbox.next(within: deadline - ContinuousClock.now) else {
                throw TimedOut(what: "$SYS …/\(suffix) to reach the expected value (last \(last)); other messages \(others.map(\.text))")
            }
            if message.topicString.hasPrefix("$SYS/") {
                guard message.topicString.hasSuffix("/" + suffix) else { continue }
                last = message.text
                if let value = Int(message.text), done(value) { return others }
            } else {
                others.append(message)
            }
        }
    }
}
