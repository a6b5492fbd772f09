import BrokerActors
import ClusterTransport
import Logging
import ServiceLifecycle

/// Keeps this node's `ClusterSystem` for the life of the process: on graceful shutdown (after the listeners, which
/// are shut down first) it tells the other members it is leaving, then closes its links.
struct ClusterService: Service {
    let system: ClusterSystem
    let broker: Broker
    let logger: Logger

    func run() async throws {
        if system.settings.listens {
            logger.info(
                "cluster started",
                metadata: [
                    "cluster/endpoint": "\(system.endpoint)",
                    "cluster/seeds": "\(system.settings.seeds.map(\.description).joined(separator: ","))",
                    "cluster/weight": "\(system.settings.weight)",
                ])
        }
        let membership = Task { await broker.followMembership() }
        let compaction = Task { await broker.compactPeriodically() }
        try? await gracefulShutdown()
        membership.cancel()
        compaction.cancel()
        if system.settings.listens { await system.leave() }
        await system.shutdown()
        await broker.store?.flush()
    }
}
