import ClusterTransport
import Synchronization

/// Which down nodes this node has finished taking sessions over from (their replicas promoted here), so that a
/// redelivery for such a node waits until the promoted sessions exist.
final class FailoverLog: Sendable {
    private struct State {
        var completed: Set<NodeName> = []
        var nextWaiter: UInt64 = 0
        /// Each waiter is resumed by whoever removes it from here: `completed` or its timeout, never both.
        var waiters: [NodeName: [UInt64: CheckedContinuation<Bool, Never>]] = [:]
        /// Waiters whose timeout fired before they were registered.
        var expired: Set<UInt64> = []
    }

    private let state = Mutex(State())

    func completed(_ node: NodeName) {
        let waiters = state.withLock { s in
            s.completed.insert(node)
            return s.waiters.removeValue(forKey: node) ?? [:]
        }
        for waiter in waiters.values { waiter.resume(returning: true) }
    }

    /// The node is up again (a new incarnation): a later failure needs a new failover.
    func reset(_ node: NodeName) {
        _ = state.withLock { $0.completed.remove(node) }
    }

    /// Returns true once the failover of `node` has completed here, false after `limit`.
    func wait(for node: NodeName, within limit: Duration) async -> Bool {
        let id: UInt64? = state.withLock { s in
            guard !s.completed.contains(node) else { return nil }
            s.nextWaiter += 1
            return s.nextWaiter
        }
        guard let id else { return true }
        let timeout = Task {
            try? await Task.sleep(for: limit)
            let waiter = state.withLock { s in
                let waiter = s.waiters[node]?.removeValue(forKey: id)
                if waiter == nil { s.expired.insert(id) }
                return waiter
            }
            waiter?.resume(returning: false)
        }
        defer { timeout.cancel() }
        return await withCheckedContinuation { continuation in
            let immediate = state.withLock { s -> Bool? in
                if s.completed.contains(node) { return true }
                if s.expired.remove(id) != nil { return false }
                s.waiters[node, default: [:]][id] = continuation
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }
}
