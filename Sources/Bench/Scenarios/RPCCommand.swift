import ArgumentParser
import ClusterProbe
import ClusterTransport
import Foundation
import Logging

/// Remote calls over the cluster transport: this process joins a `ClusterProbeNode` process over loopback TLS and
/// calls its probe actor.
struct RPCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rpc",
        abstract: "Remote calls to a ClusterProbeNode process over loopback TLS (sequential, concurrent, batch, large).",
        discussion: """
            Modes: sequential (one caller, ping(Int)), concurrent (--callers callers, ping(Int)), batch (each call
            carries --batch messages of 32 bytes), large (each call carries a 64 KiB argument; --no-lz4 turns
            compression off). Starts ClusterProbeNode (found next to this binary) on --port and stops it at the end.
            """)

    enum Mode: String, ExpressibleByArgument, CaseIterable { case sequential, concurrent, batch, large }

    @Option(help: "sequential | concurrent | batch | large") var mode: Mode = .sequential
    @Option(help: "Total calls (bounded by --seconds).") var calls = 100_000
    @Option(help: "Stop after this many seconds even if calls remain.") var seconds = 20.0
    @Option(help: "Concurrent callers (concurrent, batch and large modes).") var callers = 64
    @Option(help: "Messages per call in batch mode.") var batch = 100
    @Option(help: "Cluster port of the probe process (127.0.0.1).") var port = 24_370
    @Flag(help: "Turn lz4 off on this side (the handshake then negotiates it off).") var noLz4 = false
    @Option(help: "Warm-up calls before measuring.") var warmup = 2_000

    func run() async throws {
        let cookie = (0..<48).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement()! }.map(String.init).joined()
        let probe = try ProbeLauncher.start(port: port, cookie: cookie)
        defer { probe.stop() }
        var settings = ClusterSystemSettings(name: NodeName("bench-\(getpid())")!, cookie: ClusterCookie(cookie)!)
        settings.bindHost = "127.0.0.1"
        settings.port = 0
        settings.role = .gateway
        settings.seeds = [Endpoint(host: "127.0.0.1", port: port)!]
        settings.callTimeout = .seconds(30)
        if noLz4 { settings.compressAbove = nil }
        var logger = Logger(label: "bench.rpc")
        logger.logLevel = .warning
        let system = try await ClusterSystem(settings: settings, logger: logger)
        try await system.awaitMembership(within: .seconds(20)) { !$0.upBrokers.isEmpty }
        let prober = try ProbeHost.prober(on: NodeName("probe")!, using: system)
        let call = try RPCWorkload(mode: mode, batch: batch, prober: prober)
        for index in 0..<warmup { try await call.run(index) }
        let report = try await RPCDriver(
            callers: mode == .sequential ? 1 : callers, calls: calls, seconds: seconds, call: call
        ).run()
        report.print(mode: mode.rawValue, lz4: !noLz4, messagesPerCall: call.messagesPerCall, bytesPerCall: call.bytesPerCall)
        await system.shutdown()
    }
}

/// What one call sends, per mode.
struct RPCWorkload: Sendable {
    let prober: Prober
    let messages: [ProbeMessage]
    let blob: [UInt8]
    let mode: RPCCommand.Mode

    init(mode: RPCCommand.Mode, batch: Int, prober: Prober) throws {
        self.mode = mode
        self.prober = prober
        let payload = Array("{\"t\":21.5,\"h\":40}".utf8) + [UInt8](repeating: 0x20, count: 14)
        messages = (0..<batch).map { ProbeMessage(topic: "sensors/site-1/device-\($0)/telemetry", payload: payload, qos: 1) }
        // Telemetry-like text (repetitive, as MQTT payloads often are), 64 KiB.
        var text: [UInt8] = []
        var reading = 0
        while text.count < 64 << 10 {
            text += Array("{\"device\":\"sensor-\(reading % 97)\",\"temp\":\(20 + reading % 13).\(reading % 10),\"ok\":true}\n".utf8)
            reading += 1
        }
        blob = Array(text.prefix(64 << 10))
    }

    var messagesPerCall: Int { mode == .batch ? messages.count : 1 }
    var bytesPerCall: Int { mode == .large ? blob.count : 0 }

    func run(_ index: Int) async throws {
        switch mode {
        case .sequential, .concurrent:
            guard try await prober.ping(index) == index else { throw BenchError("ping answered the wrong value") }
        case .batch:
            guard try await prober.deliver(messages) == messages.count else { throw BenchError("batch count mismatch") }
        case .large:
            guard try await prober.absorb(blob) == blob.count else { throw BenchError("size mismatch") }
        }
    }
}

/// Starts and stops the `ClusterProbeNode` process that the calls go to.
struct ProbeLauncher {
    let process: Process

    static func start(port: Int, cookie: String) throws -> ProbeLauncher {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("ClusterProbeNode").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw BenchError("ClusterProbeNode not found beside Bench (\(binary)); build it: swift build -c release --product ClusterProbeNode")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--name", "probe", "--port", String(port), "--cookie", cookie]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return ProbeLauncher(process: process)
    }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
