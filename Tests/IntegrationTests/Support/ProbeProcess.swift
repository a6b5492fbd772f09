import ClusterTransport
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A `ClusterProbeNode` process: a cluster member hosting the probe actors, on a fixed loopback port.
final class ProbeProcess: Sendable {
    let name: String
    let port: Int
    let logPath: String
    private let process: Mutex<Process>

    static var binaryPath: String { NodeProcess.builtExecutable("ClusterProbeNode") }

    var endpoint: Endpoint { Endpoint(host: "127.0.0.1", port: port)! }

    /// Starts a probe; returns once it printed that it is ready (its listener is bound).
    static func start(name: String, port: Int, seeds: [Int], cookie: String) async throws -> ProbeProcess {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-e2e-logs")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let log = directory.appendingPathComponent("probe-\(name)-\(port)-\(UInt32.random(in: 0...UInt32.max)).log").path
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binaryPath)
        process.arguments = ["--name", name, "--port", String(port), "--cookie", cookie]
            + seeds.flatMap { ["--seed", "127.0.0.1:\($0)"] }
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"
        process.environment = environment
        let handle = FileHandle(forWritingAtPath: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        try? handle?.close()
        let probe = ProbeProcess(name: name, port: port, log: log, process: process)
        do {
            try await probe.waitForLog("probe ready port=\(port)")
        } catch {
            probe.kill()  // never leave a process behind
            throw error
        }
        return probe
    }

    private init(name: String, port: Int, log: String, process: Process) {
        self.name = name
        self.port = port
        self.logPath = log
        self.process = Mutex(process)
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
    var isRunning: Bool { process.withLock { $0.isRunning } }

    func kill(_ signal: Int32 = SIGKILL) {
        process.withLock { p in
            if p.isRunning { Glibc.kill(p.processIdentifier, signal) }
            p.waitUntilExit()
        }
    }

    /// Polls the process's log (it has no other event to wait on) until it contains `text`, for at most 20 s.
    func waitForLog(_ text: String, within timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !log.contains(text) {
            guard isRunning, ContinuousClock.now < deadline else {
                throw TimedOut(what: "probe \(name) to log \"\(text)\"; log:\n\(log)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
