import Foundation
import MQTTClient
import MQTTCore
import NIOCore
import NIOPosix
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The `Gateway` in front of a three-node cluster with static backends: each client's TCP connection lands on the
/// node that owns its session (checked in the kernel's socket table: the gateway process's established connection
/// goes to that node's MQTT port), pub/sub works through it for QoS 0 and 1 and MQTT 3.1, 3.1.1 and 5.0, and when
/// the owner of a client's session is SIGKILLed, the gateway closes the client's connection at once and its
/// reconnect lands on the new owner with Session Present = 1.
@Suite("15 gateway", .serialized, .timeLimit(.minutes(3)))
struct GatewayTests {
    @Test("each client lands on its session's owner; pub/sub through the gateway, QoS 0 and 1, every version")
    func routingAndPubSub() async throws {
        try await withCluster(count: 3) { cluster in
            try await withGateway(cluster) { gateway in
                // One client per owner, each of a different protocol version; connected one at a time, and after
                // each the gateway holds exactly one more upstream connection: to that owner's MQTT port.
                let versions: [MQTTProtocolVersion] = [.v5, .v3_1_1, .v3_1]
                var clients: [TestClient] = []
                for owner in 0..<3 {
                    let id = Placement.clientID("gw-route", ownedBy: owner)
                    clients.append(try await TestClient.connect(gateway.configuration(id, version: versions[owner])))
                    let expected = (0..<3).map { $0 <= owner ? 1 : 0 }
                    try await waitUntil("\(id) proxied to \(cluster.names[owner]) only", within: .seconds(10)) {
                        gateway.upstreamCounts(to: cluster.nodes) == expected
                    }
                    #expect(gateway.log.contains("gateway/backend=\(cluster.names[owner]) "))
                }
                let subscriber = clients[0]
                try await subscriber.subscribe("gw/t", qos: .atLeastOnce)
                let v3 = clients[1]
                try await v3.subscribe("gw/t", qos: .atLeastOnce)
                let publisher = clients[2]
                try await publisher.publish("gw/t", "q0", qos: .atMostOnce)
                try await publisher.publish("gw/t", "q1", qos: .atLeastOnce)
                for client in [subscriber, v3] {
                    let received = try await client.receive(2).map(\.text)
                    #expect(Set(received) == ["q0", "q1"])
                }
                // An empty client ID (assigned by the node) works through the gateway too.
                let anonymous = try await TestClient.connect(gateway.configuration(nil, version: .v5))
                #expect(anonymous.connAck.properties.assignedClientIdentifier != nil)
                try await anonymous.publish("gw/t", "anon", qos: .atLeastOnce)
                #expect(try await subscriber.next().text == "anon")
                for client in clients + [anonymous] { try await client.disconnect() }
            }
        }
    }

    @Test("the owner of a session is SIGKILLed: the gateway closes the client at once, the reconnect finds the session on the new owner")
    func ownerKilled() async throws {
        try await withCluster(count: 3) { cluster in
            try await withGateway(cluster) { gateway in
                let victim = 1
                let id = Placement.clientID("gw-fail", ownedBy: victim)
                let newOwner = Placement.owner(of: id, among: [0, 2])
                let persistent: (inout MQTTClientConfiguration) -> Void = {
                    $0.cleanStart = false
                    $0.connectProperties.sessionExpiryInterval = 300
                }
                let first = try await TestClient.connect(gateway.configuration(id, configure: persistent))
                #expect(first.connAck.sessionPresent == false)
                try await first.subscribe("gw/fail", qos: .atLeastOnce)
                try await waitUntil("\(id) proxied to its owner \(cluster.names[victim])") {
                    gateway.upstreamCounts(to: cluster.nodes)[victim] == 1
                }
                let publisherID = Placement.clientID("gw-fail-pub", ownedBy: newOwner == 0 ? 2 : 0)
                let publisher = try await TestClient.connect(gateway.configuration(publisherID))

                let killedAt = ContinuousClock.now
                await cluster.kill(victim)
                let closed = await closes(first, within: .seconds(5))
                #expect(closed, "the gateway did not close the client's connection within 5 s of the owner's death")
                let closedAfter = ContinuousClock.now - killedAt

                // Reconnect as a real client would: every 200 ms, for at most 30 s, until Session Present = 1.
                var second: TestClient?
                let deadline = ContinuousClock.now + .seconds(30)
                var lastProblem = "-"
                while second == nil, ContinuousClock.now < deadline {
                    do {
                        let client = try await TestClient.connect(gateway.configuration(id) { config in
                            persistent(&config)
                            config.connectTimeout = .seconds(5)
                        })
                        if client.connAck.sessionPresent {
                            second = client
                        } else {
                            lastProblem = "Session Present 0"
                            await client.close()
                        }
                    } catch {
                        lastProblem = "\(error)"
                    }
                    if second == nil { try await Task.sleep(for: .milliseconds(200)) }
                }
                let reconnected = try #require(second, "no reconnect with Session Present 1 in 30 s (last: \(lastProblem))")
                try await waitUntil("\(id) proxied to its new owner \(cluster.names[newOwner])") {
                    gateway.upstreamCounts(to: cluster.nodes)[newOwner] >= 1
                        && gateway.upstreamCounts(to: [cluster[newOwner == 0 ? 2 : 0]]) == [1]  // the publisher
                }
                try await publisher.publish("gw/fail", "after", qos: .atLeastOnce)
                #expect(try await reconnected.next().text == "after")
                print("gateway: connection closed \(closedAfter) after the owner was killed")
                try await reconnected.disconnect()
                try await publisher.disconnect()
            }
        }
    }

    @Test("TLS ends at the gateway: openssl s_client speaks MQTT through it to a node's plain MQTT port")
    func tlsTermination() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (certificate, key) = try makeSelfSignedCertificate(in: directory)
        try await withNode { node in
            let backend = "solo@127.0.0.1=127.0.0.1:\(node.mqttPort):0:0:1"
            let tlsPort = try PortAllocator.shared.next()
            let extra = ["--mqtts-port", String(tlsPort), "--tls-cert", certificate, "--tls-key", key]
            try await withGateway(backends: [backend], extra: extra) { gateway in
                try await waitUntil("the gateway's TLS listener") {
                    gateway.log.contains("127.0.0.1:\(tlsPort) listener/kind=mqtts ")
                }
                let watcher = try await TestClient.connect(node, "tls-watch", version: .v3_1_1)
                try await watcher.subscribe("gw/tls", qos: .atLeastOnce)
                try await withOpenSSLClient(port: tlsPort, caFile: certificate) { client in
                    try client.send(bytes: Wire.connect(level: 4, clientID: "gw-tls-client"))
                    let connAck = try await client.nextPacket(within: .seconds(20))
                    #expect(connAck == .connAck(.init(sessionPresent: false, reasonCode: .success)))
                    try client.send(bytes: Wire.packet(0x32, Wire.string("gw/tls") + Wire.u16(1) + Array("through TLS".utf8)))
                    #expect(try await client.nextPacket()?.kind == .pubAck)
                }
                #expect(try await watcher.next().text == "through TLS")
                #expect(gateway.log.contains("gateway/backend=solo@127.0.0.1 "))
                try await watcher.disconnect()
            }
        }
    }

    @Test("a first packet that is not CONNECT is closed without reaching a node; an oversized CONNECT too")
    func refusesNonMQTT() async throws {
        try await withNode { node in
            let backend = "solo@127.0.0.1=127.0.0.1:\(node.mqttPort):0:0:1"
            try await withGateway(backends: [backend], extra: ["--connect-buffer", "1024"]) { gateway in
                for bytes: [UInt8] in [Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), [0x10, 0x80, 0x10]] {
                    let fd = try #require(connectedSocket(port: gateway.port))
                    defer { close(fd) }
                    _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
                    var timeout = timeval(tv_sec: 5, tv_usec: 0)
                    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                    var buffer = [UInt8](repeating: 0, count: 16)
                    let count = recv(fd, &buffer, buffer.count, 0)
                    #expect(count == 0, "expected the gateway to close (EOF); recv returned \(count)")
                }
                #expect(!gateway.log.contains("proxying"))
            }
        }
    }
}

/// Whether `client`'s connection closes within `timeout`.
func closes(_ client: TestClient, within timeout: Duration) async -> Bool {
    await withTaskGroup(of: Bool.self) { group in
        group.addTask {
            _ = await client.client.waitUntilClosed()
            return true
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return false
        }
        let first = await group.next() ?? false
        group.cancelAll()
        return first
    }
}
