import MQTTClient
import MQTTCore
import NIOCore
import Testing

/// Clients that are bad in volume rather than in form: a subscriber that never reads, and a storm of connections.
extension BadInputTests {
    @Test("a subscriber that never reads (60,000 QoS 0 × 1 KiB) does not make the node grow; others are still served")
    func slowConsumer() async throws {
        try await withNode { node in
            // The slow consumer: a 4 KiB receive window, CONNECT and SUBSCRIBE, then it stops reading for good.
            let slow = try BlockingSocket(port: node.mqttPort, receiveBuffer: 4096)
            try slow.write(Wire.connect(level: 4, clientID: "slow"))
            #expect(try slow.read(exactly: 4) == [0x20, 0x02, 0x00, 0x00])
            try slow.write(Wire.packet(0x82, Wire.u16(1) + Wire.string("flood/t") + [0x00]))
            #expect(try slow.read(exactly: 5) == [0x90, 0x03, 0x00, 0x01, 0x00])

            let healthy = try await TestClient.connect(node, "healthy", version: .v5)
            try await healthy.subscribe("flood/healthy", qos: .atLeastOnce)
            try await healthy.subscribe("flood/end", qos: .atLeastOnce)
            try await healthy.watchSys("messages/dropped")
            let publisher = try await TestClient.connect(node, "flooder", version: .v5)
            let baseline = try #require(residentBytes(pid: node.pid))

            let payload = ByteBuffer(bytes: [UInt8](repeating: 0x55, count: 1024))
            let client = publisher.client
            var peak = baseline
            // 60 MiB offered to a subscriber that takes none of it: buffering it all would grow the node by more than
            // the 32 MiB allowed below (a bounded node grows by 6-8 MiB here). The healthy subscriber is on its own
            // topic, so its own buffers do not blur the measurement.
            for batch in 0..<60 {
                try await client.eventLoop.submit {
                    let view = client.onLoop()
                    for _ in 0..<1000 { view.write(.init(topic: "flood/t", payload: payload, qos: .atMostOnce)) }
                    view.flush()
                }.get()
                // A QoS 1 round trip: its PUBACK means the node has routed the 1,000 messages written before it.
                try await publisher.publish("flood/healthy", "\(batch)", qos: .atLeastOnce)
                peak = max(peak, residentBytes(pid: node.pid) ?? 0)
            }
            try await publisher.publish("flood/end", "END", qos: .atLeastOnce)
            let received = try await healthy.messages(before: "END", within: .seconds(30))
                .filter { $0.topicString == "flood/healthy" }
            #expect(received.map(\.text) == (0..<60).map(String.init), "the healthy subscriber got every message")
            let growth = peak - baseline
            #expect(growth < 32 * 1024 * 1024, "RSS grew by \(growth / 1024 / 1024) MiB with one stalled subscriber")
            // The node dropped QoS 0 messages for the stalled subscriber rather than buffering them all.
            _ = try await healthy.messages(untilSys: "messages/dropped") { $0 > 0 }
            try await publisher.disconnect()
            try await healthy.disconnect()
            _ = slow
        }
    }

    @Test("2,000 connections opening and closing at once: the node stays up and its connection count returns")
    func connectionStorm() async throws {
        try await withNode { node in
            let monitor = try await TestClient.connect(node, "monitor")
            try await monitor.watchSys("clients/connected")
            _ = try await monitor.messages(untilSys: "clients/connected") { $0 == 1 }

            let count = 2000
            let start = ContinuousClock.now
            let accepted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<count {
                    group.addTask {
                        let version: MQTTProtocolVersion = i % 2 == 0 ? .v5 : .v3_1_1
                        let connection = try await RawConnection.open(port: node.mqttPort, version: version)
                        try await connection.send(.connect(.init(version: version, clientID: "storm-\(i)")))
                        let packet = try await connection.nextPacket(within: .seconds(40))
                        if i % 3 == 0 { try? await connection.send(.disconnect(.init())) }
                        await connection.close()
                        return packet?.connAckValue?.reasonCode == .success
                    }
                }
                var accepted = 0
                for try await ok in group where ok { accepted += 1 }
                return accepted
            }
            let elapsed = ContinuousClock.now - start
            #expect(accepted == count)
            #expect(elapsed < .seconds(45), "the storm took \(elapsed)")
            #expect(node.isRunning)

            // Back to the monitor alone (the count is published every second).
            _ = try await monitor.messages(untilSys: "clients/connected", within: .seconds(20)) { $0 == 1 }
            try await monitor.subscribe("storm/t", qos: .atLeastOnce)
            let publisher = try await TestClient.connect(node, "after-storm")
            try await publisher.publish("storm/t", "calm", qos: .atLeastOnce)
            let message = try await monitor.next(on: "storm/t")
            #expect(message.text == "calm")
            try await publisher.disconnect()
            try await monitor.disconnect()
        }
    }
}
