import Foundation
import MQTTClient
import MQTTCore
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Bad input and limits at the gateway: a slowloris and a truncated CONNECT cost one timer each and are closed at
/// `--connect-timeout` while other clients are served; `--max-connections` and `--conn-rate-per-ip` refuse the
/// excess at accept time.
@Suite("15 gateway limits", .serialized, .timeLimit(.minutes(3)))
struct GatewayLimitsTests {
    /// A CONNECT of `size` bytes (a long client ID), encoded.
    static func connectBytes(clientID: String) -> [UInt8] {
        var buffer = ByteBuffer()
        MQTTPacket.connect(.init(version: .v5, clientID: clientID, cleanStart: true, keepAlive: 30))
            .encode(version: .v5, into: &buffer)
        return Array(buffer.readableBytesView)
    }

    @Test("a slowloris and a truncated CONNECT are closed at the connect timeout; a real client is served meanwhile")
    func slowClients() async throws {
        try await withNode { node in
            let backend = "solo@127.0.0.1=127.0.0.1:\(node.mqttPort):0:0:1"
            try await withGateway(backends: [backend], extra: ["--connect-timeout", "1"]) { gateway in
                let bytes = Self.connectBytes(clientID: String(repeating: "s", count: 200))
                let truncated = try await RawConnection.open(port: gateway.port)
                try await truncated.send(bytes: Array(bytes.prefix(bytes.count / 2)))
                let slow = try #require(connectedSocket(port: gateway.port))
                defer { close(slow) }
                let started = ContinuousClock.now
                // The slowloris sends one byte every 100 ms (it would need 20 s for the whole CONNECT) until a send
                // fails because the gateway closed the connection; the task returns when that happened.
                let dripping = Task { () -> Duration? in
                    for byte in bytes {
                        try? await Task.sleep(for: .milliseconds(100))
                        var one = byte
                        if send(slow, &one, 1, Int32(MSG_NOSIGNAL)) < 0 { return ContinuousClock.now - started }
                    }
                    return nil
                }
                // A real client connects, subscribes and gets its own message while both hang on.
                let client = try await TestClient.connect(gateway.configuration("served-meanwhile"))
                try await client.subscribe("limits/t", qos: .atLeastOnce)
                try await client.publish("limits/t", "hello", qos: .atLeastOnce)
                #expect(try await client.next().text == "hello")

                let slowClosedAfter = try #require(await dripping.value, "the slowloris was never closed")
                #expect(slowClosedAfter < .seconds(5), "closed after \(slowClosedAfter), expected about 1 s")
                #expect(try await truncated.packetsUntilClosed(within: .seconds(10)).isEmpty)
                #expect(gateway.log.components(separatedBy: "[Gateway] proxying").count - 1 == 1, "only the real client reached the node")
                try await client.disconnect()
                await truncated.close()
            }
        }
    }

    @Test("--max-connections: the connection over the limit is closed at once; a close makes room again")
    func maxConnections() async throws {
        try await withNode { node in
            let backend = "solo@127.0.0.1=127.0.0.1:\(node.mqttPort):0:0:1"
            try await withGateway(backends: [backend], extra: ["--max-connections", "2"]) { gateway in
                let first = try await TestClient.connect(gateway.configuration("limit-1"))
                let second = try await TestClient.connect(gateway.configuration("limit-2"))
                let third = try await RawConnection.open(port: gateway.port)
                #expect(try await third.packetsUntilClosed(within: .seconds(5)).isEmpty, "over the limit: closed")
                try await second.disconnect()
                // The slot comes back once the gateway has seen the close.
                var fourth: TestClient?
                try await waitUntil("a new client admitted after a close", within: .seconds(10)) {
                    fourth = try? await TestClient.connect(gateway.configuration("limit-4"))
                    return fourth != nil
                }
                try await first.publish("limits/ok", "x", qos: .atLeastOnce)
                try await first.disconnect()
                try await fourth?.disconnect()
                await third.close()
            }
        }
    }

    @Test("--conn-rate-per-ip: past the burst, new connections from the same address are refused")
    func ratePerAddress() async throws {
        try await withNode { node in
            let backend = "solo@127.0.0.1=127.0.0.1:\(node.mqttPort):0:0:1"
            try await withGateway(
                backends: [backend], extra: ["--conn-rate-per-ip", "0.01", "--conn-burst-per-ip", "3"]
            ) { gateway in
                // The harness's readiness probe may have used a token: count, over 6 quick connections, how many
                // get a CONNACK and how many are closed unanswered.
                var admitted = 0
                var refused = 0
                for k in 0..<6 {
                    let connection = try await RawConnection.open(port: gateway.port)
                    // Refused at accept: the send or the read finds the connection closed.
                    let connect = MQTTPacket.connect(.init(version: .v5, clientID: "rate-\(k)", cleanStart: true, keepAlive: 30))
                    if (try? await connection.send(connect)) != nil, case .connAck?? = try? await connection.nextPacket() {
                        admitted += 1
                    } else {
                        refused += 1
                    }
                    await connection.close()
                }
                #expect((1...3).contains(admitted), "admitted \(admitted)")
                #expect(refused == 6 - admitted)
            }
        }
    }
}
