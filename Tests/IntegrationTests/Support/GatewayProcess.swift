import Foundation
import MQTTClient
import MQTTCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Starts a gateway with every node of `cluster` as a backend (weight 1), runs `body`, and stops it.
func withGateway<T>(
    _ cluster: ClusterOfNodes, extra: [String] = [], _ body: (GatewayProcess) async throws -> T
) async throws -> T {
    let backends = cluster.names.indices.map { "\(cluster.names[$0])=127.0.0.1:\(cluster[$0].mqttPort):0:0:1" }
    return try await withGateway(backends: backends, extra: extra, body)
}

/// Starts a gateway that joins `cluster` as a member (`--seed` node 1, the cluster's cookie, a free cluster port),
/// waits until it has learned every node of the cluster as a backend from the membership, runs `body`, and stops it.
func withJoinedGateway<T>(
    _ cluster: ClusterOfNodes, extra: [String] = [], _ body: (GatewayProcess) async throws -> T
) async throws -> T {
    let port = try PortAllocator.shared.next()
    let join = [
        "--name", "gw@127.0.0.1", "--cluster-port", String(port), "--cookie", ClusterOfNodes.cookie,
        "--seed", "127.0.0.1:\(cluster.clusterPorts[0])", "--check-interval", "0.5",
    ]
    return try await withGateway(backends: [], extra: join + extra) { gateway in
        try await waitUntil("the gateway learned every node from the membership", within: .seconds(30)) {
            let log = gateway.log
            return cluster.names.allSatisfy { log.contains("backend added: \($0)=127.0.0.1:") }
        }
        return try await body(gateway)
    }
}

/// Starts a gateway with `backends`, runs `body`, and stops it, also when `body` throws (then its log is printed).
func withGateway<T>(
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

/// A `Gateway` process on free loopback ports (MQTT and HTTP), logging at debug level to a file.
final class GatewayProcess: Sendable {
    let port: Int
    /// The HTTP front's port (`--http-port`): MQTT over WebSocket at /mqtt, and the nodes' HTTP API.
    let httpPort: Int
    let logPath: String
    private let process: Mutex<Process>

    private init(process: Process, port: Int, httpPort: Int, logPath: String) {
        self.process = Mutex(process)
        self.port = port
        self.httpPort = httpPort
        self.logPath = logPath
    }

    static func start(backends: [String], extra: [String] = []) async throws -> GatewayProcess {
        let binary = NodeProcess.builtExecutable("Gateway")
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw NodeProcess.Failure.binaryMissing(binary) }
        for attempt in 1...5 {
            let port = try PortAllocator.shared.next()
            let httpPort = try PortAllocator.shared.next()
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-e2e-logs")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let log = directory.appendingPathComponent("gateway-\(port)-\(UInt32.random(in: 0...UInt32.max)).log").path
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = [
                "--bind", "127.0.0.1", "--mqtt-port", String(port), "--http-port", String(httpPort),
                "--log-level", "debug",
            ]
                + backends.flatMap { ["--backend", $0] } + extra
            var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("STARLING_") }
            environment["SWIFT_BACKTRACE"] = "enable=no"
            process.environment = environment
            let handle = FileHandle(forWritingAtPath: log)
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
            try? handle?.close()
            let gateway = GatewayProcess(process: process, port: port, httpPort: httpPort, logPath: log)
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline, gateway.isRunning {
                let text = gateway.log
                if text.contains("127.0.0.1:\(port) listener/kind=mqtt "),
                    text.contains("127.0.0.1:\(httpPort) listener/kind=http "), canConnect(port: port)
                {
                    return gateway
                }
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
        upstreamCounts(toPorts: nodes.map(\.mqttPort))
    }

    /// For each of `ports`, how many ESTABLISHED TCP connections this gateway process has to that port.
    func upstreamCounts(toPorts targets: [Int]) -> [Int] {
        let ports = establishedRemotePorts()
        return targets.map { target in ports.filter { $0 == target }.count }
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
func connectedSocket(port: Int) -> Int32? {
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
