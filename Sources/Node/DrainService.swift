import BrokerActors
import Logging
import ServiceLifecycle

/// Drains the node on SIGTERM or SIGINT before anything else stops: it is the last service of the node's group, so
/// graceful shutdown reaches it first, and the HTTP API (answering 503 "draining"), the listeners and the cluster
/// links stay up while the sessions move to their new owners (`Broker.drain`). Then the group goes on: the listeners
/// close and the node leaves the cluster.
struct DrainService: Service {
    let broker: Broker
    /// Sessions handed over per second at most (`--drain-rate`; 0: no limit).
    let sessionsPerSecond: Double
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        let started = ContinuousClock.now
        await broker.drain(sessionsPerSecond: sessionsPerSecond)
        logger.notice("drained", metadata: ["node/seconds": "\(ContinuousClock.now - started)"])
    }
}
