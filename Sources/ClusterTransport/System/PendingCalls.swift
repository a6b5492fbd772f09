import NIOCore
import Synchronization

/// Calls waiting for their reply, by call ID. Every entry ends exactly once: by its reply, its deadline, the loss of
/// its peer, cancellation, or shutdown.
final class PendingCalls: Sendable {
    private struct Entry {
        let continuation: CheckedContinuation<CallOutcome, any Error>
        let peer: NodeName
        let deadline: NIODeadline
    }

    private struct State {
        var nextID: UInt64 = 1
        var calls: [UInt64: Entry] = [:]
    }

    private let state = Mutex(State())

    func makeID() -> UInt64 {
        state.withLock { s in
            defer { s.nextID = s.nextID == .max ? 1 : s.nextID + 1 }  // never 0: that is a one-way call
            return s.nextID
        }
    }

    /// Waits for call `id` to end. `send` puts the call on its way once the call is registered; if it throws, the
    /// call ends with that error.
    func wait(
        for id: UInt64, peer: NodeName, deadline: NIODeadline, send: () throws -> Void
    ) async throws -> CallOutcome {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<CallOutcome, any Error>) in
                state.withLock { $0.calls[id] = Entry(continuation: continuation, peer: peer, deadline: deadline) }
                do {
                    try send()
                } catch {
                    complete(id, with: .failure(error))
                }
                // Cancelled before the entry existed: the cancellation handler found nothing to end.
                if Task.isCancelled { complete(id, with: .failure(CancellationError())) }
            }
        } onCancel: {
            complete(id, with: .failure(CancellationError()))
        }
    }

    /// A reply from `peer`: it may only end calls that were sent to that peer.
    func complete(_ id: UInt64, from peer: NodeName, with result: Result<CallOutcome, any Error>) {
        let entry: Entry? = state.withLock { s in
            guard s.calls[id]?.peer == peer else { return nil }
            return s.calls.removeValue(forKey: id)
        }
        entry?.continuation.resume(with: result)
    }

    func complete(_ id: UInt64, with result: Result<CallOutcome, any Error>) {
        guard let entry = state.withLock({ $0.calls.removeValue(forKey: id) }) else { return }  // late or duplicate
        entry.continuation.resume(with: result)
    }

    /// Ends every call pending on `peer` (its link was lost or it was declared down).
    func failAll(peer: NodeName, _ error: RemoteCallError) {
        let ended = state.withLock { s in
            let ids = s.calls.filter { $0.value.peer == peer }.map(\.key)
            return ids.compactMap { s.calls.removeValue(forKey: $0) }
        }
        for entry in ended { entry.continuation.resume(throwing: error) }
    }

    func failAll(_ error: RemoteCallError) {
        let ended = state.withLock { s in
            defer { s.calls.removeAll() }
            return Array(s.calls.values)
        }
        for entry in ended { entry.continuation.resume(throwing: error) }
    }

    /// Ends the calls whose deadline has passed.
    func expire(now: NIODeadline) {
        let ended = state.withLock { s in
            let ids = s.calls.filter { $0.value.deadline <= now }.map(\.key)
            return ids.compactMap { id in s.calls.removeValue(forKey: id).map { (id, $0) } }
        }
        for (id, entry) in ended {
            entry.continuation.resume(throwing: RemoteCallError(.timedOut, "call \(id) to \(entry.peer)"))
        }
    }

    var count: Int { state.withLock { $0.calls.count } }
}
