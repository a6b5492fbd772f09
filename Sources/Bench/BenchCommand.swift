import ArgumentParser

/// The load tool: `swift run -c release Bench <scenario> [options]`.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "Bench",
        abstract: "Loopback benchmarks: MQTT load (pairs, fanin, fanout, conn), cluster remote calls (rpc), a client self-check.",
        discussion: """
            Every scenario prints a progress line per second, a summary, and a final line `RESULT {json}`.
            All addresses must be in 127.0.0.0/8. See docs/bench-tool.md.
            """,
        subcommands: [
            PairsCommand.self, FanInCommand.self, FanOutCommand.self, ConnCommand.self, CheckCommand.self, RPCCommand.self,
        ]
    )
}
