import MQTTClient
import MQTTCore
import NIOCore
import Testing

/// Retained messages: storing, replacing and clearing them, what a new subscription gets (Retain Handling, Retain
/// As Published, wildcards, shared subscriptions) and their expiry.
@Suite("03 Retain", .timeLimit(.minutes(1)))
struct RetainTests {
    static let versions: [MQTTProtocolVersion] = [.v3_1_1, .v5]

    /// Subscribes `client` to `filter` and returns the messages that subscription brought at once. The sentinel is
    /// a message the client publishes to its own marker topic after the SUBSCRIBE: one connection's requests are
    /// carried out in order, so the retained messages are delivered ahead of it.
    static func retainedOnSubscribe(
        _ client: TestClient, _ filter: String, qos: MQTTQoS = .atLeastOnce,
        retainHandling: MQTTPacket.RetainHandling = .sendOnSubscribe, retainAsPublished: Bool = false,
        identifier: UInt32? = nil
    ) async throws -> [MQTTPacket.Publish] {
        let marker = "sync/\(client.connAck.properties.assignedClientIdentifier ?? client.client.configuration.clientID?.value ?? "")"
        try await client.subscribe(marker, qos: .atLeastOnce)
        let ack = try await client.subscribe(
            filter, qos: qos, retainAsPublished: retainAsPublished, retainHandling: retainHandling, identifier: identifier)
        #expect(ack.reasonCodes.allSatisfy { !$0.isFailure }, "SUBACK \(ack.reasonCodes)")
        try await client.publish(marker, "SYNC", qos: .atLeastOnce)
        return try await client.messages(before: "SYNC")
    }

    @Test("set, replace and clear a retained message", arguments: versions)
    func setReplaceClear(version: MQTTProtocolVersion) async throws {
        try await withNode { node in
            let publisher = try await TestClient.connect(node, "retainer", version: version)
            try await publisher.publish("r/t", "v1", qos: .atLeastOnce, retain: true)
            let first = try await TestClient.connect(node, "s1", version: version)
            let got1 = try await Self.retainedOnSubscribe(first, "r/t")
            #expect(got1.map(\.text) == ["v1"])
            #expect(got1.first?.retain == true, "a retained delivery on subscribe has RETAIN set")
            #expect(got1.first?.qos == .atLeastOnce)

            try await publisher.publish("r/t", "v2", qos: .atMostOnce, retain: true)
            // The live copy reaches the existing subscriber without RETAIN.
            let live = try await first.next()
            #expect(live.text == "v2")
            #expect(live.retain == false, "RETAIN is cleared on delivery to an established subscription")
            let second = try await TestClient.connect(node, "s2", version: version)
            let got2 = try await Self.retainedOnSubscribe(second, "r/t")
            #expect(got2.map(\.text) == ["v2"], "replaced, not added")
            #expect(got2.first?.qos == .atMostOnce, "stored at the QoS it was published with")

            // An empty retained payload clears it (and is itself not stored).
            try await publisher.publish("r/t", "", qos: .atLeastOnce, retain: true)
            let third = try await TestClient.connect(node, "s3", version: version)
            let nothing1 = try await Self.retainedOnSubscribe(third, "r/t").map(\.text)
            #expect(nothing1 == [])
            for client in [publisher, first, second, third] { try await client.disconnect() }
        }
    }

    @Test("v5 Retain Handling 0 sends on every subscribe, 1 only on a new one, 2 never")
    func retainHandling() async throws {
        try await withNode { node in
            let publisher = try await TestClient.connect(node, "rh-pub")
            for topic in ["rh/0", "rh/1", "rh/2"] {
                try await publisher.publish(topic, topic, qos: .atLeastOnce, retain: true)
            }
            let client = try await TestClient.connect(node, "rh-sub")
            // (filter, handling, expected on the first subscribe, expected on the same subscribe again)
            let table: [(String, MQTTPacket.RetainHandling, [String], [String])] = [
                ("rh/0", .sendOnSubscribe, ["rh/0"], ["rh/0"]),
                ("rh/1", .sendOnNewSubscribe, ["rh/1"], []),
                ("rh/2", .doNotSend, [], []),
            ]
            for (filter, handling, first, again) in table {
                let onNew = try await Self.retainedOnSubscribe(client, filter, retainHandling: handling).map(\.text)
                #expect(onNew == first, "\(handling) on a new subscription")
                let onExisting = try await Self.retainedOnSubscribe(client, filter, retainHandling: handling).map(\.text)
                #expect(onExisting == again, "\(handling) on an existing subscription")
            }
            try await publisher.disconnect()
            try await client.disconnect()
        }
    }

    @Test("v5: a retained message sent on subscribe has the subscription's identifier and at most its QoS")
    func retainedIdentifierAndQoS() async throws {
        try await withNode { node in
            let publisher = try await TestClient.connect(node, "sid-pub")
            try await publisher.publish("sid/t", "kept at qos 2", qos: .exactlyOnce, retain: true)
            try await publisher.publish("sid/low", "kept at qos 0", qos: .atMostOnce, retain: true)
            let client = try await TestClient.connect(node, "sid-sub")
            let got = try await Self.retainedOnSubscribe(client, "sid/t", qos: .atLeastOnce, identifier: 42)
            #expect(got.map(\.qos) == [.atLeastOnce], "min(stored QoS 2, subscription QoS 1)")
            #expect(got.first?.properties.subscriptionIdentifiers == [42])
            let low = try await Self.retainedOnSubscribe(client, "sid/low", qos: .exactlyOnce, identifier: 43)
            #expect(low.map(\.qos) == [.atMostOnce], "min(stored QoS 0, subscription QoS 2)")
            #expect(low.first?.properties.subscriptionIdentifiers == [43])
            try await publisher.disconnect()
            try await client.disconnect()
        }
    }

    @Test("v5 Retain As Published keeps RETAIN on live messages; without it RETAIN is cleared")
    func retainAsPublished() async throws {
        try await withNode { node in
            let keeps = try await TestClient.connect(node, "rap-on")
            try await keeps.subscribe("rap/t", retainAsPublished: true)
            let clears = try await TestClient.connect(node, "rap-off")
            try await clears.subscribe("rap/t", retainAsPublished: false)
            let publisher = try await TestClient.connect(node, "rap-pub")
            try await publisher.publish("rap/t", "retained", qos: .atLeastOnce, retain: true)
            try await publisher.publish("rap/t", "plain", qos: .atLeastOnce, retain: false)
            let kept = try await keeps.receive(2)
            #expect(kept.map(\.retain) == [true, false])
            let cleared = try await clears.receive(2)
            #expect(cleared.map(\.retain) == [false, false])
            // A retained delivery on subscribe has RETAIN set whatever the option says.
            let late = try await TestClient.connect(node, "rap-late")
            let onSubscribe = try await Self.retainedOnSubscribe(late, "rap/t", retainAsPublished: false)
            #expect(onSubscribe.map(\.retain) == [true])
            for client in [keeps, clears, publisher, late] { try await client.disconnect() }
        }
    }

    @Test("wildcard subscriptions get every matching retained message, and never $SYS ones through # or +", arguments: versions)
    func retainedWildcards(version: MQTTProtocolVersion) async throws {
        try await withNode { node in
            let publisher = try await TestClient.connect(node, "wild-pub", version: version)
            for topic in ["w/a", "w/b/c", "w/b/d", "x/y"] {
                try await publisher.publish(topic, topic, qos: .atLeastOnce, retain: true)
            }
            // Make sure $SYS retained messages exist before subscribing to #.
            let sys = try await TestClient.connect(node, "sys-check", version: version)
            try await sys.subscribe("$SYS/#", qos: .atMostOnce)
            _ = try await sys.next()
            let client = try await TestClient.connect(node, "wild-sub", version: version)
            #expect(Set(try await Self.retainedOnSubscribe(client, "w/#").map(\.topicString)) == ["w/a", "w/b/c", "w/b/d"])
            let retained = try await Self.retainedOnSubscribe(client, "w/+/c").map(\.topicString)
            #expect(retained == ["w/b/c"])
            let retained2 = try await Self.retainedOnSubscribe(client, "+/y").map(\.topicString)
            #expect(retained2 == ["x/y"])
            let other = try await TestClient.connect(node, "wild-all", version: version)
            let all = try await Self.retainedOnSubscribe(other, "#").map(\.topicString)
            // `#` also matches the marker topics this test publishes to (they are not retained, so not here).
            #expect(Set(all) == ["w/a", "w/b/c", "w/b/d", "x/y"], "got \(all)")
            for client in [publisher, sys, client, other] { try await client.disconnect() }
        }
    }

    @Test("retained messages are not sent to shared subscriptions")
    func notToSharedSubscriptions() async throws {
        try await withNode { node in
            let publisher = try await TestClient.connect(node, "share-pub")
            try await publisher.publish("sh/t", "kept", qos: .atLeastOnce, retain: true)
            let client = try await TestClient.connect(node, "share-sub")
            let nothing5 = try await Self.retainedOnSubscribe(client, "$share/g/sh/t").map(\.text)
            #expect(nothing5 == [])
            let nothing6 = try await Self.retainedOnSubscribe(client, "$queue/sh/t").map(\.text)
            #expect(nothing6 == [])
            // The retained message is still there for a normal subscription.
            let retained = try await Self.retainedOnSubscribe(client, "sh/t").map(\.text)
            #expect(retained == ["kept"])
            try await publisher.disconnect()
            try await client.disconnect()
        }
    }

    @Test("a retained message with Message Expiry is sent with the time left, then disappears")
    func retainedExpiry() async throws {
        try await withNode { node in
            let publisher = try await TestClient.connect(node, "exp-pub")
            let client = try await TestClient.connect(node, "exp-sub")
            var properties = MQTTProperties()
            properties.messageExpiryInterval = 4
            let publishing = ContinuousClock.now
            try await publisher.publish("exp/t", "short-lived", qos: .atLeastOnce, retain: true, properties: properties)
            let fresh = try await Self.retainedOnSubscribe(client, "exp/t")
            #expect(fresh.map(\.text) == ["short-lived"])
            let left = try #require(fresh.first?.properties.messageExpiryInterval)
            #expect((1...4).contains(left), "Message Expiry Interval \(left) of 4")

            // Re-subscribe (Retain Handling 0 sends again) until the message is gone.
            try await waitUntil("the retained message to expire", within: .seconds(12), every: .milliseconds(200)) {
                try await Self.retainedOnSubscribe(client, "exp/t").isEmpty
            }
            let elapsed = ContinuousClock.now - publishing
            #expect(elapsed >= .milliseconds(3800), "expired after \(elapsed), before its 4 s")
            #expect(elapsed < .seconds(8), "expired only after \(elapsed)")
            try await publisher.disconnect()
            try await client.disconnect()
        }
    }

    @Test("expired retained messages are deleted, not only hidden ($SYS retained/count goes back down)")
    func expiredRetainedAreDeleted() async throws {
        try await withNode { node in
            let watcher = try await TestClient.connect(node, "count-watch")
            try await watcher.watchSys("retained/count")
            // The node's own $SYS messages are retained too; wait until they are all counted.
            var before = 0
            _ = try await watcher.messages(untilSys: "retained/count") { count in
                defer { before = count }
                return count > 0 && count == before
            }
            let publisher = try await TestClient.connect(node, "short-retain")
            var properties = MQTTProperties()
            properties.messageExpiryInterval = 2
            let publishing = ContinuousClock.now
            for i in 0..<5 {
                try await publisher.publish("gone/\(i)", "soon", qos: .atLeastOnce, retain: true, properties: properties)
            }
            // They are counted while stored. The count is sampled once a second, and on a loaded machine the first
            // may have expired and been purged before the last is stored, so this does not insist on all five.
            _ = try await watcher.messages(untilSys: "retained/count") { $0 > before }
            var last = 0
            do {
                _ = try await watcher.messages(untilSys: "retained/count", within: .seconds(15)) { count in
                    last = count
                    return count == before
                }
                #expect(ContinuousClock.now - publishing >= .seconds(2), "deleted before it expired")
            } catch is TimedOut {
                Issue.record("retained/count still \(last) (before: \(before)) 15 s after the messages expired: never purged")
            }
            try await publisher.disconnect()
            try await watcher.disconnect()
        }
    }

    @Test("a retained message's remaining expiry decreases while it is stored")
    func retainedExpiryDecrements() async throws {
        try await withNode { node in
            let publisher = try await TestClient.connect(node, "dec-pub")
            var properties = MQTTProperties()
            properties.messageExpiryInterval = 30
            try await publisher.publish("dec/t", "aging", qos: .atLeastOnce, retain: true, properties: properties)
            // Time has to pass for the interval to shrink: this sleep is the aging under test, not a wait for an event.
            try await Task.sleep(for: .milliseconds(2100))
            let client = try await TestClient.connect(node, "dec-sub")
            let got = try await Self.retainedOnSubscribe(client, "dec/t")
            let left = try #require(got.first?.properties.messageExpiryInterval)
            #expect(left <= 28, "Message Expiry Interval \(left) after more than 2 s of 30")
            #expect(left >= 20)
            try await publisher.disconnect()
            try await client.disconnect()
        }
    }
}
