import ArgumentParser

/// The load tool: `swift run -c release Bench <scenario> [options]`.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "Bench",
        abstract: "MQTT load generator for loopback benchmarks (pairs, fanin, fanout, conn) and a client self-check.",
        discussion: """
            Every scenario prints a progress line per second, a summary, and a final line `RESULT {json}`.
            All addresses must be in 127.0.0.0/8. See docs/bench-tool.md.
            """,
        subcommands: [PairsCommand.self, FanInCommand.self, FanOutCommand.self, ConnCommand.self, CheckCommand.self]
    )
}
