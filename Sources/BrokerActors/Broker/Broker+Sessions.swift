import ClusterTransport
import Distributed
import MQTTCore

/// Session placement across nodes: replication targets, adoption (failover and handover) and rebalancing after a
/// membership change.
extension Broker {
    public func replicaTarget(for clientID: ClientID) -> NodeName? {
        guard actorSystem.settings.listens else { return nil }
        let local = actorSystem.node.name
        let candidates = actorSystem.ownershipCandidates
        guard candidates.count > 1 else { return nil }
        return Ownership.preferenceList(for: Self.sessionKey(clientID), among: candidates).first { $0 != local }
    }

    public func replicate(_ update: ReplicaUpdate, to node: NodeName) -> ReplicationTicket {
        ReplicationTicket(node: node, ticket: replicator.link(to: node).enqueue(update))
    }

    public func awaitReplicated(_ ticket: ReplicationTicket) async -> Bool {
        let replicated = await replicator.link(to: ticket.node).wait(ticket.ticket)
        if !replicated { metrics.replicationFailures.add(1, ordering: .relaxed) }
        return replicated
    }

    public func adopt(_ snapshot: SessionSnapshot, on node: NodeName) async -> Bool {
        if node == actorSystem.node.name { return await adoptLocally(snapshot, connectionLost: false) }
        do {
            let brokers = actorSystem.membership.upBrokers.map(\.id)
            return try await actorSystem.wellKnown(SessionHostActor.self, path: SessionHostActor.path, on: node)
                .adopt(snapshot, announcingTo: brokers)
        } catch {
            logger.warning("session handover failed", metadata: ["cluster/peer": "\(node)", "error": "\(error)"])
            return false
        }
    }

    /// Starts a session from a snapshot here. When one with the client ID already runs here (a client that
    /// reconnected meanwhile, or the other side of a healed partition), that one absorbs the snapshot instead:
    /// subscriptions are united and the snapshot's undelivered messages delivered. Returns true: the session is here.
    func adoptLocally(_ snapshot: SessionSnapshot, connectionLost: Bool) async -> Bool {
        let clientID = snapshot.state.clientID
        guard snapshot.state.isConsistent else {
            logger.error("refused an inconsistent session snapshot", metadata: ["mqtt/client_id": "\(clientID)"])
            return false
        }
        return await connectLock.withLock(clientID) {
            if let existing = self.sessions.session(for: clientID) {
                try? await existing.absorb(snapshot)
                self.metrics.sessionsMerged.add(1, ordering: .relaxed)
                self.logger.info("merged two copies of a session", metadata: ["mqtt/client_id": "\(clientID)"])
                return true
            }
            let session = SessionActor(snapshot: snapshot, services: self, actorSystem: self.actorSystem)
            self.sessions.register(session, for: clientID)
            _ = await self.indexSubscriptions(clientID, Array(snapshot.state.subscriptions.values))
            await session.whenLocal { await $0.resume(connectionLost: connectionLost) }
            self.metrics.sessionsAdopted.add(1, ordering: .relaxed)
            return true
        }
    }

    /// Makes the route announcer send to these brokers too (another node saw them up first).
    func meet(_ brokers: [NodeID]) async {
        for broker in brokers where broker.name != actorSystem.node.name { await announcer.peerUp(broker) }
    }

    public func passOn(_ items: [SessionDelivery], to node: NodeName, clientID: ClientID) async {
        if node == actorSystem.node.name {
            try? await sessions.session(for: clientID)?.deliver(items)
            return
        }
        guard let host = try? actorSystem.wellKnown(SessionHostActor.self, path: SessionHostActor.path, on: node) else {
            return
        }
        try? await host.deliver(items, to: clientID)
    }

    public func sessionMoved(_ session: SessionActor, clientID: ClientID) async {
        sessions.remove(session, for: clientID)
    }

    /// After a membership change. When `down` is given, that node is gone: the replicas of its sessions held here
    /// become sessions (where this node owns them now; the owner gets them otherwise), and sessions here whose
    /// connection was there lose it. Then every session here checks its owner and replica.
    func rebalanceSessions(down: NodeName?) async {
        if let down {
            let promoted = await replicaActor.whenLocal { $0.takeAll(primary: down) } ?? []
            for (clientID, entry) in promoted {
                if ownsSession(of: clientID) {
                    sessions.markAdopted(clientID, from: down.rawValue)
                    _ = await adoptLocally(entry.snapshot, connectionLost: true)
                } else if let owner = sessionOwner(of: clientID) {
                    // This copy is not the owner's to promote; the owner holds its own (or gets this one).
                    _ = await adopt(entry.snapshot, on: owner)
                }
            }
            if !promoted.isEmpty {
                logger.info("sessions taken over from a down node", metadata: ["cluster/peer": "\(down)", "count": "\(promoted.count)"])
            }
            failovers.completed(down)
            for (_, session) in sessions.all { try? await session.connectionNodeDown(down) }
        }
        for (clientID, session) in sessions.all {
            try? await session.checkPlacement(owner: sessionOwner(of: clientID))
        }
    }
}
