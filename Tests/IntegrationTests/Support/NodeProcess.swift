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

    /// The `Node` binary built next to this test bundle (`.build/<config>/Node`).
    static var binaryPath: String {
        if let override = ProcessInfo.processInfo.environment["STARLING_NODE_BIN"] { return override }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // The test runner lives in StarlingPackageTests.xctest (a file on Linux); walk up until Node is beside us.
        for _ in 0..<3 where !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("Node").path) {
            dir.deleteLastPathComponent()
        }
        return dir.appendingPathComponent("Node").path
    }

    /// Starts a node with `--bind 127.0.0.1` and fresh ports; `arguments` adds or overrides flags.
    static func start(_ arguments: [String] = [], tls: Bool = false) async throws -> NodeProcess {
        let binary = binaryPath
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw Failure.binaryMissing(binary) }
        let mqtt = try freePort()
        let ws = try freePort()
        let mqtts = tls ? try freePort() : 0
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("starling-node-\(mqtt).log").path
        FileManager.default.createFile(atPath: log, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--bind", "127.0.0.1", "--mqtt-port", String(mqtt), "--ws-port", String(ws), "--mqtts-port", String(mqtts),
            "--sys-interval", "1", "--log-level", "debug",
        ] + arguments
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("STARLING_") }
        environment["SWIFT_BACKTRACE"] = "enable=no"
        process.environment = environment
        let handle = FileHandle(forWritingAtPath: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let node = NodeProcess(process: process, mqtt: mqtt, ws: ws, mqtts: mqtts, log: log)
        try await node.waitUntilListening(port: mqtt)
        return node
    }

    private init(process: Process, mqtt: Int, ws: Int, mqtts: Int, log: String) {
        self.process = Mutex(process)
        self.mqttPort = mqtt
        self.wsPort = ws
        self.mqttsPort = mqtts
        self.logPath = log
    }

    var pid: Int32 { process.withLock { $0.processIdentifier } }
    var isRunning: Bool { process.withLock { $0.isRunning } }
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

    /// Polls until a TCP connection to `port` succeeds, for at most 20 s (a debug build starts in well under 1 s).
    func waitUntilListening(port: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if canConnect(port: port) { return }
            guard isRunning else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw Failure.didNotListen(port: port, log: log)
    }
}

/// A port that is free on 127.0.0.1 right now (bind to port 0, read it back, close).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

func canConnect(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}
