import ClusterTransport
import Distributed
import MQTTCore

/// Replication and placement: every change goes to the replica as an event, in order; a replica that is new (or
/// lost track) gets a snapshot; a session whose owner changed is handed over whole.
extension SessionActor {
    /// The whole state, for a new replica or a new owner.
    func snapshot() -> SessionSnapshot {
        SessionSnapshot(state: state, timers: timers)
    }

    /// Sends `event` (already applied here) to the replica; returns the ticket to await, nil on a node alone.
    @discardableResult
    func record(_ event: SessionEvent) -> ReplicationTicket? {
        sequence += 1
        if services.persists { persist(event) }
        guard let target = services.replicaTarget(for: state.clientID) else {
            replica = nil
            return nil
        }
        if target != replica {
            replica = target
            return services.replicate(
                ReplicaUpdate(clientID: state.clientID, sequence: sequence, change: .snapshot(snapshot())), to: target)
        }
        return services.replicate(ReplicaUpdate(clientID: state.clientID, sequence: sequence, change: .events([event])), to: target)
    }

    /// Writes the event to the data directory while the session is persistent (a snapshot first); a session that
    /// stopped being persistent is removed from it.
    private func persist(_ event: SessionEvent) {
        if state.expiryInterval > 0 {
            if persisted {
                services.persist(.event(state.clientID, sequence: sequence, event))
            } else {
                persistSnapshot()
            }
        } else if persisted {
            services.persist(.sessionEnded(state.clientID))
            persisted = false
        }
    }

    func persistSnapshot() {
        guard services.persists, state.expiryInterval > 0 else { return }
        services.persist(.session(state.clientID, sequence: sequence, snapshot()))
        persisted = true
    }

    /// The record that rebuilds this session, for a compaction of the data directory; nil when not persistent.
    func durableRecord() -> DurableRecord? {
        guard persisted, !ended, movedTo == nil else { return nil }
        return .session(state.clientID, sequence: sequence, snapshot())
    }

    /// The session ended: its replica is dropped.
    func recordEnd() {
        if persisted {
            services.persist(.sessionEnded(state.clientID))
            persisted = false
        }
        guard let replica else { return }
        _ = services.replicate(ReplicaUpdate(clientID: state.clientID, sequence: sequence, change: .drop), to: replica)
        self.replica = nil
    }

    /// The replica lost track (or could not be reached): send it a snapshot.
    public distributed func resyncReplica() {
        guard !ended, movedTo == nil, let target = services.replicaTarget(for: state.clientID) else { return }
        replica = target
        _ = services.replicate(ReplicaUpdate(clientID: state.clientID, sequence: sequence, change: .snapshot(snapshot())), to: target)
    }

    /// After a membership change: a session this node no longer owns is handed to its owner; one whose replica
    /// moved sends the new replica a snapshot.
    public distributed func checkPlacement(owner: NodeName?) async {
        guard !ended, movedTo == nil, !handingOver else { return }
        if let owner, owner != actorSystem.node.name {
            await handOver(to: owner)
        } else if services.replicaTarget(for: state.clientID) != replica {
            resyncReplica()
        }
    }

    /// Moves the session to `owner`: it adopts the snapshot, the client's connection is closed (DISCONNECT 0x9C for
    /// MQTT 5) so that it reconnects there, and whatever still arrives here is passed on.
    private func handOver(to owner: NodeName) async {
        guard state.expiryInterval > 0 else {
            // A session that ends with its connection is not moved: the client starts afresh at the new owner.
            state.will = nil
            if let connection {
                self.connection = nil
                services.sessions.setOnline(state.clientID, false)
                try? await connection.disconnect(reason: .useAnotherServer)
            }
            await end()
            return
        }
        let snapshot = snapshot()
        handingOver = true
        let adopted = await services.adopt(snapshot, on: owner)
        if adopted { movedTo = owner }
        handingOver = false
        let waiters = handoverWaiters
        handoverWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
        guard adopted else { return }  // retried at the next membership change
        cancelTimer()
        if let connection {
            self.connection = nil
            services.sessions.setOnline(state.clientID, false)
            try? await connection.disconnect(reason: .useAnotherServer)
        }
        if let replica, replica != owner {
            _ = services.replicate(ReplicaUpdate(clientID: state.clientID, sequence: sequence, change: .drop), to: replica)
        }
        replica = nil
        if persisted {
            services.persist(.sessionEnded(state.clientID))  // the new owner stores it from now on
            persisted = false
        }
        let filters = state.subscriptions.values.map(\.filter)
        await services.unindexSubscriptions(state.clientID, filters)
        await services.sessionMoved(self, clientID: state.clientID)
    }

    /// Starts a session adopted from a snapshot on this node. A promoted replica whose client was connected (to the
    /// node that died) has lost that connection: the will and expiry take their course.
    func resume(connectionLost: Bool) async {
        if connectionLost, state.isConnected {
            await connectionEnded(publishWill: true, expiryOverride: nil)
        } else {
            let now = services.clock.now()
            if state.isConnected {
                // Handed over while connected: the connection is being closed; the session now waits offline.
                state.detach()
                let expiry = state.expiryInterval
                if expiry != 0, expiry != .max { timers.expiresAt = now.adding(seconds: expiry) }
            }
            persistSnapshot()
            resyncReplica()
            scheduleTimer(now: now)
        }
    }

    /// Waits while a handover is in flight (see `handingOver`).
    func untilHandedOver() async {
        while handingOver {
            await withCheckedContinuation { handoverWaiters.append($0) }
        }
    }

    /// A node went down: if the attached connection was there, it is lost.
    public distributed func connectionNodeDown(_ node: NodeName) async {
        await untilHandedOver()
        guard let connection, connection.id.node?.name == node else { return }
        await connectionEnded(publishWill: true, expiryOverride: nil)
    }

    /// Takes in another copy of this session (after a partition healed, both sides had one): the subscriptions it
    /// has and this one lacks are added, and its undelivered messages are delivered here (a message both copies
    /// hold arrives twice; none is lost). This copy's connection, will and expiry stay. The other copy is dropped
    /// by its node, so nothing stays duplicated.
    public distributed func absorb(_ other: SessionSnapshot) async {
        await untilHandedOver()
        guard !ended, movedTo == nil else { return }
        let missing = other.state.subscriptions.filter { state.subscriptions[$0.key] == nil }.map(\.value)
        if !missing.isEmpty { _ = await subscribe(missing) }
        let pending = other.state.pendingDeliveries
        if !pending.isEmpty { await deliver(pending) }
    }
}
