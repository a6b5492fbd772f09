import ArgumentParser
import MQTTClient
import NIOCore
import NIOPosix
import Synchronization

/// C idle connections opened at a given rate and held; reports the connect rate, failures and, with
/// `--broker-pid`, the broker's resident memory per connection.
struct ConnCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conn",
        abstract: "Open C idle connections at --rate per second, hold them for --duration seconds, report.",
        discussion: """
            After every connection was attempted the tool waits --settle seconds, reads the broker's VmRSS and prints
            `READY connected=<n> failed=<n>` (scripts that run several Bench processes wait for that line), then
            holds the connections for --duration seconds.
            """)

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Number of connections.") var count = 1000
    @Option(help: "Connections opened per second; 0 opens them as fast as --connect-concurrency allows.")
    var rate: Double = 1000
    @Option(help: "Seconds to hold the connections once they are open.") var duration: Double = 10
    @Option(help: "Seconds to wait after connecting before reading the broker's memory.") var settle: Double = 2
    @Option(name: .customLong("broker-pid"), help: "The broker's process id, to read its VmRSS.") var brokerPID: Int32?
    @Flag(help: "Print only the READY and RESULT lines.") var json = false

    func validate() throws {
        try validateCount(count, connectionsEach: 1)
        guard rate >= 0 else { throw ValidationError("--rate must not be negative") }
        guard duration >= 0, duration <= 86_400 else { throw ValidationError("--duration must be 0...86400") }
        guard settle >= 0, settle <= 600 else { throw ValidationError("--settle must be 0...600") }
    }

    func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: connection.threads ?? System.coreCount)
        let report = await ConnRunner(command: self, group: group).run()
        try await group.shutdownGracefully()
        report.print(json: json)
    }
}

/// Counters shared by the connect tasks, the close callbacks and the progress reporter.
private final class ConnTally: Sendable {
    let counters = Mutex(ConnCounters())

    func withLock<R: Sendable>(_ body: (inout ConnCounters) -> R) -> R { counters.withLock { body(&$0) } }
}

private struct ConnCounters: Sendable {
    var connected = 0
    var failed = 0
    var dropped = 0
    var holding = true
    var latency = LatencyHistogram()
    var lastConnect: UInt64 = 0
    var errors: [String: Int] = [:]
}

private struct ConnRunner {
    let command: ConnCommand
    let group: MultiThreadedEventLoopGroup

    func run() async -> ConnReport {
        let counters = ConnTally()
        let rssBefore = command.brokerPID.flatMap(BrokerMemory.residentBytes(pid:))
        let start = MonotonicClock.now()
        let progress = Task { await reportProgress(counters, start: start) }
        let clients = await open(counters: counters, start: start)
        let openSeconds = MonotonicClock.seconds(from: start, to: counters.withLock { $0.lastConnect })
        progress.cancel()

        try? await Task.sleep(for: .seconds(command.settle))
        let rssAfter = command.brokerPID.flatMap(BrokerMemory.residentBytes(pid:))
        let (connected, failed) = counters.withLock { ($0.connected, $0.failed) }
        Output.line("READY connected=\(connected) failed=\(failed)")
        try? await Task.sleep(for: .seconds(command.duration))
        let rssEnd = command.brokerPID.flatMap(BrokerMemory.residentBytes(pid:))

        counters.withLock { $0.holding = false }
        _ = try? await concurrentMap(clients.count, limit: 256) { index in try? await clients[index].disconnect() }
        let final = counters.withLock { $0 }
        return ConnReport(
            requested: command.count, connected: final.connected, failed: final.failed, dropped: final.dropped,
            openSeconds: openSeconds, latency: final.latency, errors: final.errors, rssBefore: rssBefore,
            rssAfter: rssAfter, rssEnd: rssEnd, version: command.connection.version)
    }

    /// Opens the connections, connection i no earlier than i / rate seconds after `start`.
    private func open(counters: ConnTally, start: UInt64) async -> [MQTTClient] {
        let connection = command.connection
        let rate = command.rate
        let group = self.group
        let results = try? await concurrentMap(command.count, limit: connection.connectConcurrency) {
            index -> MQTTClient? in
            if rate > 0 { try await MonotonicClock.sleep(until: start + UInt64(Double(index) / rate * 1e9)) }
            let began = MonotonicClock.now()
            do {
                let (client, _) = try await MQTTClient.connect(
                    connection.configuration(role: .conn, index: index), eventLoopGroup: group)
                let done = MonotonicClock.now()
                counters.withLock {
                    $0.connected += 1
                    $0.latency.record(done - began)
                    $0.lastConnect = max($0.lastConnect, done)
                }
                client.closeFuture.whenComplete { _ in
                    counters.withLock { if $0.holding { $0.dropped += 1 } }
                }
                return client
            } catch {
                let done = MonotonicClock.now()
                counters.withLock {
                    $0.failed += 1
                    $0.errors["\(error)", default: 0] += 1
                    $0.lastConnect = max($0.lastConnect, done)
                }
                return nil
            }
        }
        return (results ?? []).compactMap { $0 }
    }

    private func reportProgress(_ counters: ConnTally, start: UInt64) async {
        guard !command.json else { return }
        var previous = 0
        var second = 0
        while !Task.isCancelled {
            second += 1
            do { try await MonotonicClock.sleep(until: start + UInt64(second) * 1_000_000_000) } catch { return }
            let (connected, failed) = counters.withLock { ($0.connected, $0.failed) }
            Output.line(
                "[\(pad(second, 4))s] connected \(pad(connected - previous, 6))/s  total \(connected)"
                    + "  failed \(failed)")
            previous = connected
        }
    }
}
