import ClusterTransport
import Logging
import ServiceLifecycle

/// Cluster mode: the gateway is a member of the cluster with the gateway role (it hosts no broker actors and owns
/// no keys). It follows the membership, and every change is applied to the backends (`GatewayState.apply`): a
/// broker that appears with its MQTT port becomes a backend, one that leaves stops getting new clients, and one
/// that goes down has its client connections closed at once, before any health check notices. On graceful
/// shutdown it leaves the cluster.
struct MembershipFollower: Service {
    let system: ClusterSystem
    let state: GatewayState
    let logger: Logger

    func run() async throws {
        logger.info(
            "joining the cluster",
            metadata: [
                "cluster/endpoint": "\(system.endpoint)",
                "cluster/seeds": "\(system.settings.seeds.map(\.description).joined(separator: ","))",
            ])
        let events = system.membershipEvents()
        apply()
        await cancelWhenGracefulShutdown {
            for await _ in events {
                guard !Task.isCancelled else { return }
                apply()
            }
        }
        await system.leave()
        await system.shutdown()
    }

    private func apply() {
        let change = state.apply(members: system.membership.members)
        for note in change.notes { logger.info("membership", metadata: ["gateway/change": "\(note)"]) }
        if !change.closing.isEmpty {
            logger.warning("closing the client connections of a node that is gone", metadata: ["gateway/connections": "\(change.closing.count)"])
        }
        for channel in change.closing { channel.close(promise: nil) }
    }
}
