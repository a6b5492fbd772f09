import ClusterTransport
import Logging
import ServiceLifecycle

/// Runs this node's `ClusterSystem`: joins through the seeds at start, and on graceful shutdown tells the other
/// members it is leaving before its links close.
struct ClusterService: Service {
    let settings: ClusterSystemSettings
    let logger: Logger

    func run() async throws {
        let system = try await ClusterSystem(settings: settings, logger: logger)
        logger.info(
            "cluster started",
            metadata: [
                "cluster/endpoint": "\(system.endpoint)", "cluster/seeds": "\(settings.seeds.map(\.description).joined(separator: ","))",
                "cluster/weight": "\(settings.weight)",
            ])
        try? await gracefulShutdown()
        await system.leave()
        await system.shutdown()
    }
}
