import ClusterTransport
import Distributed
import Logging

/// Ships this node's route changes to every other broker node: in order, batched (one call carries every change
/// queued since the last), and awaitable, so a SUBACK goes out only once the new route is known cluster-wide.
///
/// Per peer, one sender task runs while the peer is behind. A peer that is new (or a new incarnation), or that
/// reports a gap, gets a full synchronisation instead of changes. A peer that cannot be reached is retried until
/// membership says it is gone; its waiters are then released (it will synchronise when it comes back).
actor RouteAnnouncer {
    private struct Peer {
        var id: NodeID
        var acked: UInt64 = 0
        var needsSync = true
        var running = false
        var waiters: [(version: UInt64, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let routes: ClusterRoutes
    private let system: ClusterSystem
    private let logger: Logger
    private var peers: [NodeName: Peer] = [:]

    init(routes: ClusterRoutes, system: ClusterSystem, logger: Logger) {
        self.routes = routes
        self.system = system
        self.logger = logger
    }

    /// Returns once every broker that is up in the current view (a peer this announcer has not met yet included:
    /// its `up` event may still be on its way here) has applied the local routes up to `version`, or has left.
    func awaitAnnounced(_ version: UInt64) async {
        for member in system.membership.upBrokers where peers[member.id.name]?.id != member.id {
            peerUp(member.id)
        }
        let names = Array(peers.keys)
        for name in names { kick(name) }
        for name in names {
            guard let peer = peers[name], peer.acked < version else { continue }
            await withCheckedContinuation { continuation in
                peers[name]?.waiters.append((version, continuation))
            }
        }
    }

    /// A broker node is up (or came back as a new incarnation): it gets a full synchronisation.
    func peerUp(_ id: NodeID) {
        guard id.name != system.node.name else { return }
        if let existing = peers[id.name], existing.id == id { return }
        let waiters = peers[id.name]?.waiters ?? []
        peers[id.name] = Peer(id: id, waiters: waiters)
        kick(id.name)
    }

    /// A peer asks for a full synchronisation (it dropped this node's routes while it thought this node was down,
    /// which this node may never have noticed).
    func resync(_ id: NodeID) {
        guard id.name != system.node.name else { return }
        guard peers[id.name]?.id == id else { return peerUp(id) }
        peers[id.name]?.needsSync = true
        kick(id.name)
    }

    /// A node is down or gone: stop sending to it and release whoever waits for it.
    func peerGone(_ name: NodeName) {
        guard let peer = peers.removeValue(forKey: name) else { return }
        for waiter in peer.waiters { waiter.continuation.resume() }
        trim()
    }

    private func kick(_ name: NodeName) {
        guard var peer = peers[name], !peer.running else { return }
        peer.running = true
        peers[name] = peer
        Task { await self.run(name) }
    }

    private func run(_ name: NodeName) async {
        var failures = 0
        while let peer = peers[name], peer.needsSync || peer.acked < routes.version {
            do {
                let acked = try await send(to: peer)
                guard peers[name]?.id == peer.id else { continue }  // replaced meanwhile: start over with the new one
                failures = 0
                if let acked {
                    peers[name]?.acked = acked
                    peers[name]?.needsSync = false
                } else {
                    peers[name]?.needsSync = true
                }
                release(name)
            } catch {
                failures += 1
                if failures == 1 || failures % 50 == 0 {
                    logger.debug("route announcement failed; retrying", metadata: ["cluster/peer": "\(name)", "error": "\(error)"])
                }
                try? await Task.sleep(for: .milliseconds(min(20 * failures, 500)))
            }
        }
        peers[name]?.running = false
        trim()
    }

    /// Sends what `peer` lacks; returns the version it has now, or nil when it asked for a full synchronisation.
    private func send(to peer: Peer) async throws -> UInt64? {
        let router = try system.wellKnown(RouterActor.self, path: RouterActor.path, on: peer.id)
        if !peer.needsSync, let (changes, upTo) = routes.changes(after: peer.acked) {
            return try await router.apply(from: system.node, base: peer.acked, changes: changes) ? upTo : nil
        }
        let (filters, version) = routes.localSnapshot()
        try await router.synchronise(from: system.node, version: version, filters: filters, members: routes.localMembers())
        return version
    }

    private func release(_ name: NodeName) {
        guard let peer = peers[name] else { return }
        var kept: [(version: UInt64, continuation: CheckedContinuation<Void, Never>)] = []
        for waiter in peer.waiters {
            if waiter.version <= peer.acked && !peer.needsSync { waiter.continuation.resume() } else { kept.append(waiter) }
        }
        peers[name]?.waiters = kept
    }

    /// Drops the log entries every peer has.
    private func trim() {
        let floor = peers.values.map { $0.needsSync ? 0 : $0.acked }.min() ?? routes.version
        routes.trimLog(upTo: floor)
    }
}
