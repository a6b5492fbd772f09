import ClusterTransport
import Logging
import MQTTCore

extension Broker {
    /// True once the node has started draining: its status answers 503 and it owns no more sessions.
    public var isDraining: Bool { drainingFlag.withLock { $0 } }

    /// Drains the node before it stops, so that a restart loses nothing (EMQX calls this node evacuation):
    ///
    /// 1. The node is marked draining: `/api/v5/status` answers 503, so a gateway sends it no new clients.
    /// 2. It sets its own weight to 0 in its member record. A weight-0 broker owns no key, so every node (and the
    ///    gateway) computes new owners for this node's sessions and retained shards, and moves its replicas away.
    /// 3. It hands each of its sessions to the new owner (the handover of a returning node: snapshot, adopt, the
    ///    client's connection gets DISCONNECT 0x9C so it reconnects there, late messages passed on), at most
    ///    `sessionsPerSecond` a second (0: no limit), then copies its retained shards to their owners.
    /// 4. The connections on this node attached to sessions elsewhere get DISCONNECT 0x8B (server shutting down).
    ///
    /// A standalone node (or one with no other broker up) keeps its sessions: only its data directory carries them
    /// over a restart. Called once; later calls return at once.
    public func drain(sessionsPerSecond: Double) async {
        let first = drainingFlag.withLock { draining in
            defer { draining = true }
            return !draining
        }
        guard first else { return }
        let others = actorSystem.membership.upBrokers.filter { $0.id.name != actorSystem.node.name && $0.weight > 0 }
        logger.notice("draining", metadata: ["cluster/others": "\(others.count)", "count": "\(sessions.all.count)"])
        if !others.isEmpty {
            actorSystem.updateLocalMember(weight: 0)
            let local = sessions.all
            let interval: Duration? = sessionsPerSecond > 0 ? .seconds(1.0 / sessionsPerSecond) : nil
            var next = ContinuousClock.now
            for (clientID, session) in local {
                try? await session.checkPlacement(owner: sessionOwner(of: clientID))
                if let interval {
                    // Pacing, so that a node with many sessions does not flood the others.
                    next += interval
                    try? await Task.sleep(until: next)
                }
            }
            await rebalanceRetained()
            logger.notice("sessions handed over", metadata: ["count": "\(local.count)", "cluster/left": "\(sessions.all.count)"])
        }
        let attached = remoteAttachments.removeAll()
        for connection in attached { try? await connection.disconnect(reason: .serverShuttingDown) }
    }
}

extension Broker {
    /// Changes this node's weight at run time: the new member record is gossiped (every node, and a gateway member,
    /// routes by it at once), and the sessions and retained shards here whose owner the new weight changes are
    /// handed over. Returns false for an invalid weight (not finite, not > 0, above `Member.maximumWeight`) or while
    /// draining.
    public func reweigh(to weight: Double) async -> Bool {
        guard weight.isFinite, weight > 0, weight <= Member.maximumWeight, !isDraining else { return false }
        guard actorSystem.updateLocalMember(weight: weight) else { return true }  // unchanged
        logger.notice("weight changed", metadata: ["cluster/weight": "\(weight)"])
        await rebalanceSessions(down: nil)
        await rebalanceRetained()
        return true
    }
}
