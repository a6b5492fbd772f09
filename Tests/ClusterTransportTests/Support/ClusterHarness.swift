import Distributed
import Logging
import NIOCore
import Testing
@testable import ClusterTransport

enum TestCluster {
    static let cookie = ClusterCookie(String(repeating: "starling-test-cookie-", count: 3))!

    static func settings(_ name: String, seeds: [Endpoint] = [], cookie: ClusterCookie = cookie) -> ClusterSystemSettings {
        var settings = ClusterSystemSettings(name: NodeName(name)!, cookie: cookie)
        settings.bindHost = "127.0.0.1"
        settings.port = 0
        settings.seeds = seeds
        settings.callTimeout = .seconds(5)
        // All systems of a test share this process's CPU with the other tests running in parallel; a detector this
        // tolerant still declares a stopped system down within 4 s, without flapping while the machine is saturated.
        settings.failureDetector.maxSilence = .seconds(4)
        settings.failureDetector.acceptablePause = .seconds(2)
        return settings
    }

    static func start(_ settings: ClusterSystemSettings) async throws -> ClusterSystem {
        var logger = Logger(label: "test.\(settings.name)")
        logger.logLevel = .critical
        let system = try await ClusterSystem(settings: settings, logger: logger)
        system.types.register(Point.self)
        system.types.registerError(TestError.self)
        system.registerKeyed(kind: "counter") { _, system in KeyedCounter(actorSystem: system) }
        return system
    }

    /// Starts `count` systems (the first is the seed of the others), waits until each sees all of them up, runs
    /// `body`, then shuts every system down.
    static func with<T>(
        _ count: Int, _ body: ([ClusterSystem]) async throws -> T
    ) async throws -> T {
        let first = try await start(settings("n0"))
        var systems = [first]
        for index in 1..<count {
            systems.append(try await start(settings("n\(index)", seeds: [first.endpoint])))
        }
        do {
            for system in systems { try await waitForUp(system, count: count) }
            let result = try await body(systems)
            for system in systems { await system.shutdown() }
            return result
        } catch {
            for system in systems { await system.shutdown() }
            throw error
        }
    }

    /// Waits for membership events until `system` sees `count` up brokers. The bound is generous: in a full
    /// parallel test run (several clusters of Node processes beside these in-process systems) a join has been seen
    /// to take over 10 s; this is a wait, not a measure of speed.
    static func waitForUp(_ system: ClusterSystem, count: Int, within timeout: Duration = .seconds(30)) async throws {
        try await waitForView(system, within: timeout) { $0.upBrokers.count == count }
    }

    static func waitForView(
        _ system: ClusterSystem, within timeout: Duration = .seconds(30),
        _ condition: @escaping @Sendable (MembershipSnapshot) -> Bool
    ) async throws {
        try await system.awaitMembership(within: timeout, condition)
    }
}

struct ViewTimeout: Error, CustomStringConvertible {
    let description: String
}
