import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A `Node` executable started on free loopback ports for one test, killed when the test ends.
final class NodeProcess: Sendable {
    let mqttPort: Int
    let wsPort: Int
    let mqttsPort: Int
    /// The HTTP API (`/api/v5/status`).
    let httpPort: Int
    let logPath: String
    private let process: Mutex<Process>

    enum Failure: Error, CustomStringConvertible {
        case binaryMissing(String)
        case didNotListen(port: Int, log: String)
        var description: String {
            switch self {
            case .binaryMissing(let path): "Node binary not found at \(path); run swift build first"
            case .didNotListen(let port, let log): "Node did not listen on \(port) in time; log:\n\(log)"
            }
        }
    }

    /// The `Node` binary: `STARLING_NODE_BIN`, else the one built next to this test bundle.
    static var binaryPath: String {
        if let override = ProcessInfo.processInfo.environment["STARLING_NODE_BIN"] { return override }
        return builtExecutable("Node")
    }

    /// An executable of this package built next to this test bundle (`.build/<config>/<name>`).
    static func builtExecutable(_ name: String) -> String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // The test runner lives in StarlingPackageTests.xctest (a file on Linux); walk up until the binary is beside us.
        for _ in 0..<3 where !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent(name).path) {
            dir.deleteLastPathComponent()
        }
        return dir.appendingPathComponent(name).path
    }

    /// Starts a node with `--bind 127.0.0.1` and fresh ports; `arguments` adds or overrides flags.
    ///
    /// Returns once the node itself has logged "listening" on each of its ports and accepts connections there. A
    /// port taken in the meantime by another process (the node then exits with EADDRINUSE) is retried with new ports.
    static func start(_ arguments: [String] = [], tls: Bool = false) async throws -> NodeProcess {
        let binary = binaryPath
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw Failure.binaryMissing(binary) }
        var attempt = 0
        while true {
            attempt += 1
            let node = try launch(binary: binary, arguments: arguments, tls: tls)
            do {
                try await node.waitUntilListening()
                return node
            } catch Failure.didNotListen(_, let log) where attempt < 5 && log.contains("Address already in use") {
                await node.stop()
            }
        }
    }

    private static func launch(binary: String, arguments: [String], tls: Bool) throws -> NodeProcess {
        let mqtt = try PortAllocator.shared.next()
        let ws = try PortAllocator.shared.next()
        let mqtts = tls ? try PortAllocator.shared.next() : 0
        let http = try PortAllocator.shared.next()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-e2e-logs")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let log = directory.appendingPathComponent("node-\(mqtt)-\(UInt32.random(in: 0...UInt32.max)).log").path
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--bind", "127.0.0.1", "--mqtt-port", String(mqtt), "--ws-port", String(ws), "--mqtts-port", String(mqtts),
            "--http-port", String(http), "--sys-interval", "1", "--log-level", "debug",
        ] + arguments
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("STARLING_") }
        environment["SWIFT_BACKTRACE"] = "enable=no"
        process.environment = environment
        let handle = FileHandle(forWritingAtPath: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        try? handle?.close()
        return NodeProcess(process: process, mqtt: mqtt, ws: ws, mqtts: mqtts, http: http, log: log)
    }

    private init(process: Process, mqtt: Int, ws: Int, mqtts: Int, http: Int, log: String) {
        self.process = Mutex(process)
        self.mqttPort = mqtt
        self.wsPort = ws
        self.mqttsPort = mqtts
        self.httpPort = http
        self.logPath = log
    }

    var pid: Int32 { process.withLock { $0.processIdentifier } }
    var isRunning: Bool { process.withLock { $0.isRunning } }
    /// The exit status, once the process has exited.
    var terminationStatus: Int32 { process.withLock { $0.terminationStatus } }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func kill(_ signal: Int32 = SIGKILL) {
        process.withLock { p in
            if p.isRunning { Glibc.kill(p.processIdentifier, signal) }
        }
    }

    /// Stops the node (SIGTERM, then SIGKILL after two seconds) and waits for it to exit.
    func stop() async {
        kill(SIGTERM)
        let deadline = ContinuousClock.now + .seconds(2)
        while isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        kill(SIGKILL)
        process.withLock { $0.waitUntilExit() }
    }

    /// Polls until the node has logged "listening" on every port it was given and a TCP connection to the MQTT port
    /// succeeds, for at most 20 s (a debug build starts in well under 1 s). Checking the log as well as the port makes
    /// sure the listener is this node's and not another process's that happened to get the same port.
    func waitUntilListening() async throws {
        let ports = [(mqttPort, "mqtt"), (wsPort, "ws"), (mqttsPort, "mqtts"), (httpPort, "http")].filter { $0.0 > 0 }
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            guard isRunning else { break }
            let text = log
            let logged = ports.allSatisfy { port, kind in
                text.contains("127.0.0.1:\(port) listener/kind=\(kind) ")
            }
            if logged, canConnect(port: mqttPort), isRunning { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw Failure.didNotListen(port: mqttPort, log: log)
    }
}

/// Hands out listening ports for test nodes: below the kernel's ephemeral range (32768-60999 on Linux), so that an
/// outgoing connection of a client cannot take a port between the check and the node's bind, and never the same
/// port twice in one test process.
final class PortAllocator: Sendable {
    static let shared = PortAllocator()
    private let used = Mutex(Set<Int>())
    private let range = 20_000..<32_000

    func next() throws -> Int {
        for _ in 0..<1000 {
            let candidate = Int.random(in: range)
            let fresh = used.withLock { $0.insert(candidate).inserted }
            if fresh, isBindable(port: candidate) { return candidate }
        }
        throw POSIXError(.EADDRINUSE)
    }
}

/// Whether `port` can be bound on 127.0.0.1 right now.
func isBindable(port: Int) -> Bool {
    withLoopbackSocket(port: port) { fd, address, length in bind(fd, address, length) } == 0
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
func canConnect(port: Int) -> Bool {
    withLoopbackSocket(port: port) { fd, address, length in connect(fd, address, length) } == 0
}

/// Runs `body` with a fresh TCP socket and the address 127.0.0.1:`port`, then closes the socket.
private func withLoopbackSocket(
    port: Int, _ body: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Int32
) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}
