import ArgumentParser
import MQTTClient
import MQTTCore
import NIOCore
import NIOPosix

/// Exercises MQTTClient against a real broker (mosquitto, or our Node) and prints PASS/FAIL per check. It is how the
/// client is verified before it is trusted with numbers; exits non-zero when a check fails.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Run MQTTClient through its paces against a broker (QoS 0/1/2, acks, wills, packet-id wrap, ...).")

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Messages for the packet identifier wraparound check (above 65535 wraps).")
    var wrapMessages = 70_000

    func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: connection.threads ?? System.coreCount)
        let checks = ClientChecks(connection: connection, group: group, wrapMessages: wrapMessages)
        var failures = 0
        for (name, check) in checks.all {
            let started = MonotonicClock.now()
            do {
                try await check()
                Output.line("PASS \(name) (\(JSONLine.format(MonotonicClock.seconds(from: started, to: MonotonicClock.now()), decimals: 2)) s)")
            } catch {
                failures += 1
                Output.line("FAIL \(name): \(error)")
            }
        }
        try await group.shutdownGracefully()
        Output.line("RESULT {\"scenario\":\"check\",\"version\":\"\(connection.version.rawValue)\",\"checks\":\(checks.all.count),\"failures\":\(failures)}")
        if failures > 0 { throw ExitCode.failure }
    }
}
