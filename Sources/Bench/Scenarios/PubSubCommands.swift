import ArgumentParser

/// N publisher/subscriber pairs, each pair on its own topic.
struct PairsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pairs", abstract: "N publisher/subscriber pairs, each pair on its own topic bench/pair/<i>.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var load: LoadOptions
    @Option(help: "Number of pairs.") var count = 1

    func validate() throws { try validateCount(count, connectionsEach: 2) }

    func run() async throws {
        try await LoadRunner(plan: .pairs(count), connection: connection, load: load).run().print()
    }
}

/// P publishers to one wildcard subscriber.
struct FanInCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanin", abstract: "P publishers on bench/fanin/<i> to one subscriber of bench/fanin/#.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var load: LoadOptions
    @Option(help: "Number of publishers.") var count = 10

    func validate() throws { try validateCount(count, connectionsEach: 1) }

    func run() async throws {
        try await LoadRunner(plan: .fanIn(count), connection: connection, load: load).run().print()
    }
}

/// One publisher to S subscribers of the same topic.
struct FanOutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanout", abstract: "One publisher on bench/fanout to S subscribers of that topic.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var load: LoadOptions
    @Option(help: "Number of subscribers.") var count = 10

    func validate() throws { try validateCount(count, connectionsEach: 1) }

    func run() async throws {
        try await LoadRunner(plan: .fanOut(count), connection: connection, load: load).run().print()
    }
}

/// The process may hold at most 20,000 file descriptors and each connection takes one; keep some headroom.
func validateCount(_ count: Int, connectionsEach: Int) throws {
    let limit = 18_000 / connectionsEach
    guard count > 0, count <= limit else {
        throw ValidationError("--count must be 1...\(limit): the file descriptor cap is 20000 per process")
    }
}
