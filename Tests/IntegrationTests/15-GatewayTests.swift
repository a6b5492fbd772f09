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
private func closes(_ client: TestClient, within timeout: Duration) async -> Bool {
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

/// Starts a gateway with every node of `cluster` as a backend (weight 1), runs `body`, and stops it.
private func withGateway<T>(
    _ cluster: ClusterOfNodes, extra: [String] = [], _ body: (GatewayProcess) async throws -> T
) async throws -> T {
    let backends = cluster.names.indices.map { "\(cluster.names[$0])=127.0.0.1:\(cluster[$0].mqttPort):0:0:1" }
    return try await withGateway(backends: backends, extra: extra, body)
}

/// Starts a gateway with `backends`, runs `body`, and stops it, also when `body` throws (then its log is printed).
private func withGateway<T>(
    backends: [String], extra: [String] = [], _ body: (GatewayProcess) async throws -> T
) async throws -> T {
    let gateway = try await GatewayProcess.start(backends: backends, extra: extra)
    do {
        let result = try await body(gateway)
        await gateway.stop()
        return result
    } catch {
        print("--- gateway log \(gateway.logPath) after \(error) ---\n\(gateway.log.split(separator: "\n").suffix(60).joined(separator: "\n"))")
        await gateway.stop()
        throw error
    }
}

/// A `Gateway` process on a free loopback port, logging at debug level to a file.
final class GatewayProcess: Sendable {
    let port: Int
    let logPath: String
    private let process: Mutex<Process>

    private init(process: Process, port: Int, logPath: String) {
        self.process = Mutex(process)
        self.port = port
        self.logPath = logPath
    }

    static func start(backends: [String], extra: [String] = []) async throws -> GatewayProcess {
        let binary = NodeProcess.builtExecutable("Gateway")
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw NodeProcess.Failure.binaryMissing(binary) }
        for attempt in 1...5 {
            let port = try PortAllocator.shared.next()
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-e2e-logs")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let log = directory.appendingPathComponent("gateway-\(port)-\(UInt32.random(in: 0...UInt32.max)).log").path
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["--bind", "127.0.0.1", "--mqtt-port", String(port), "--log-level", "debug"]
                + backends.flatMap { ["--backend", $0] } + extra
            var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("STARLING_") }
            environment["SWIFT_BACKTRACE"] = "enable=no"
            process.environment = environment
            let handle = FileHandle(forWritingAtPath: log)
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
            try? handle?.close()
            let gateway = GatewayProcess(process: process, port: port, logPath: log)
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline, gateway.isRunning {
                if gateway.log.contains("127.0.0.1:\(port) listener/kind=mqtt "), canConnect(port: port) { return gateway }
                try await Task.sleep(for: .milliseconds(20))
            }
            await gateway.stop()
            if attempt < 5, gateway.log.contains("Address already in use") { continue }
            throw NodeProcess.Failure.didNotListen(port: port, log: gateway.log)
        }
        throw NodeProcess.Failure.didNotListen(port: 0, log: "")
    }

    var pid: Int32 { process.withLock { $0.processIdentifier } }
    var isRunning: Bool { process.withLock { $0.isRunning } }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// SIGTERM, then SIGKILL after two seconds; waits for the exit.
    func stop() async {
        process.withLock { if $0.isRunning { kill($0.processIdentifier, SIGTERM) } }
        let deadline = ContinuousClock.now + .seconds(2)
        while isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        process.withLock { p in
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
        }
    }

    /// A client configuration that connects through this gateway (10 s bounds on every wait).
    func configuration(
        _ clientID: String?, version: MQTTProtocolVersion = .v5,
        configure: (inout MQTTClientConfiguration) -> Void = { _ in }
    ) -> MQTTClientConfiguration {
        var config = MQTTClientConfiguration(
            host: "127.0.0.1", port: port, version: version, clientID: clientID.map { ClientID(stringLiteral: $0) },
            cleanStart: true, connectTimeout: .seconds(10), requestTimeout: .seconds(15))
        configure(&config)
        return config
    }

    /// For each of `nodes`, how many ESTABLISHED TCP connections this gateway process has to its MQTT port: read
    /// from the kernel (the process's socket inodes in /proc/<pid>/fd, matched in /proc/net/tcp{,6}).
    func upstreamCounts(to nodes: [NodeProcess]) -> [Int] {
        let ports = establishedRemotePorts()
        return nodes.map { node in ports.filter { $0 == node.mqttPort }.count }
    }

    private func establishedRemotePorts() -> [Int] {
        let fdDirectory = "/proc/\(pid)/fd"
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: fdDirectory)) ?? []
        var inodes = Set<String>()
        for entry in entries {
            var link = [CChar](repeating: 0, count: 256)
            let length = readlink("\(fdDirectory)/\(entry)", &link, link.count - 1)
            guard length > 0 else { continue }
            let target = String(decoding: link[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard target.hasPrefix("socket:[") else { continue }
            inodes.insert(String(target.dropFirst(8).dropLast()))
        }
        var ports: [Int] = []
        for table in ["/proc/\(pid)/net/tcp", "/proc/\(pid)/net/tcp6"] {
            // Read to the end: /proc files report size 0, and String(contentsOfFile:) stops after one page.
            guard let handle = FileHandle(forReadingAtPath: table) else { continue }
            let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
            try? handle.close()
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9, fields[3] == "01", inodes.contains(String(fields[9])),
                    let portHex = fields[2].split(separator: ":").last, let port = Int(portHex, radix: 16)
                else { continue }
                ports.append(port)
            }
        }
        return ports
    }
}

/// A blocking TCP socket connected to 127.0.0.1:`port`, or nil.
private func connectedSocket(port: Int) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard result == 0 else {
        close(fd)
        return nil
    }
    return fd
}
