import ClusterTransport
import Distributed
import MQTTCore
import Synchronization

/// The updates this node's sessions send to the replicas on one other node: queued synchronously (so each
/// session's updates keep the order it made them), shipped in batches by one sender task (one call carries every
/// update queued meanwhile), and awaitable per update, so a QoS 1/2 message is acknowledged only once the
/// replica holds it.
final class ReplicationLink: Sendable {
    private struct State {
        var queue: [ReplicaUpdate] = []
        /// The ticket of the last queued update; tickets count from 1.
        var lastTicket: UInt64 = 0
        var sending = false
        /// Tickets up to this one are settled (sent and answered, or failed).
        var settled: UInt64 = 0
        var waiters: [(ticket: UInt64, continuation: CheckedContinuation<Bool, Never>)] = []
        /// Whether the settled tickets reached the replica (false after a failed batch, until the next success).
        var lastBatchSucceeded = true
    }

    let target: NodeName
    private let system: ClusterSystem
    private let state = Mutex(State())
    /// Called with the clients whose replica asked for a snapshot (or whose updates failed).
    private let resync: @Sendable ([ClientID]) -> Void

    init(target: NodeName, system: ClusterSystem, resync: @escaping @Sendable ([ClientID]) -> Void) {
        self.target = target
        self.system = system
        self.resync = resync
    }

    /// Queues an update; returns its ticket.
    func enqueue(_ update: ReplicaUpdate) -> UInt64 {
        let (ticket, start) = state.withLock { s -> (UInt64, Bool) in
            s.queue.append(update)
            s.lastTicket += 1
            let start = !s.sending
            s.sending = true
            return (s.lastTicket, start)
        }
        if start { Task { await self.run() } }
        return ticket
    }

    /// Returns once the update with this ticket is settled: true when the replica accepted it.
    func wait(_ ticket: UInt64) async -> Bool {
        await withCheckedContinuation { continuation in
            let settledNow: Bool? = state.withLock { s in
                if ticket <= s.settled { return s.lastBatchSucceeded }
                s.waiters.append((ticket, continuation))
                return nil
            }
            if let settledNow { continuation.resume(returning: settledNow) }
        }
    }

    private func run() async {
        while true {
            let (batch, upTo): ([ReplicaUpdate], UInt64) = state.withLock { s in
                let batch = s.queue
                s.queue.removeAll(keepingCapacity: true)
                if batch.isEmpty { s.sending = false }
                return (batch, s.lastTicket)
            }
            guard !batch.isEmpty else { return }
            var succeeded = false
            var needSnapshot: [ClientID] = []
            do {
                needSnapshot = try await system.wellKnown(SessionReplicaActor.self, path: SessionReplicaActor.path, on: target)
                    .apply(from: system.node, batch)
                succeeded = true
            } catch {
                var seen = Set<ClientID>()
                needSnapshot = batch.map(\.clientID).filter { seen.insert($0).inserted }
            }
            let ready = state.withLock { s in
                s.settled = upTo
                s.lastBatchSucceeded = succeeded
                let ready = s.waiters.filter { $0.ticket <= upTo }
                s.waiters.removeAll { $0.ticket <= upTo }
                return ready
            }
            for waiter in ready { waiter.continuation.resume(returning: succeeded) }
            if !needSnapshot.isEmpty { resync(needSnapshot) }
            // An unreachable replica: pace the retries (the sessions resend snapshots) until membership moves the
            // replicas elsewhere.
            if !succeeded { try? await Task.sleep(for: .milliseconds(200)) }
        }
    }
}

/// The replication links of this node, one per target node.
final class Replicator: Sendable {
    private let system: ClusterSystem
    private let links = Mutex<[NodeName: ReplicationLink]>([:])
    private let resync: @Sendable ([ClientID]) -> Void

    init(system: ClusterSystem, resync: @escaping @Sendable ([ClientID]) -> Void) {
        self.system = system
        self.resync = resync
    }

    func link(to node: NodeName) -> ReplicationLink {
        links.withLock { links in
            if let link = links[node] { return link }
            let link = ReplicationLink(target: node, system: system, resync: resync)
            links[node] = link
            return link
        }
    }
}
