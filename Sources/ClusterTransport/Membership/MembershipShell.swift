import NIOCore
import Synchronization

/// The live membership of one node: the pure `MembershipState` and `FailureDetector` behind a lock, the cached
/// ownership candidates, and the subscribers to membership events. The transport feeds it heartbeats and gossip
/// and carries out what the returned events mean (dial a new member, fail the calls of a down one).
public final class MembershipShell: Sendable {
    private struct State {
        var membership: MembershipState
        var detector: FailureDetector
        var subscribers: [UInt64: AsyncStream<MembershipEvent>.Continuation] = [:]
        var nextSubscriber: UInt64 = 0
    }

    private let state: Mutex<State>
    /// The up brokers as ownership candidates, recomputed on each change (read on every keyed call).
    private let cachedCandidates = Mutex<[OwnershipCandidate]>([])
    private let cachedSnapshot: Mutex<MembershipSnapshot>

    init(local: Member, detector: FailureDetector.Configuration) {
        let membership = MembershipState(local: local)
        state = Mutex(State(membership: membership, detector: FailureDetector(configuration: detector)))
        cachedSnapshot = Mutex(membership.snapshot)
        refreshCaches(membership)
    }

    /// The current view and its epoch.
    public var snapshot: MembershipSnapshot { cachedSnapshot.withLock { $0 } }

    public var local: Member { state.withLock { $0.membership.local } }

    var candidates: [OwnershipCandidate] { cachedCandidates.withLock { $0 } }

    func isUpBroker(_ name: NodeName) -> Bool {
        cachedCandidates.withLock { $0.contains { $0.name == name } }
    }

    var gossip: [Member] { state.withLock { $0.membership.gossip } }

    /// Membership events from now on. The stream ends when the system shuts down.
    public func events() -> AsyncStream<MembershipEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: MembershipEvent.self, bufferingPolicy: .bufferingNewest(4096))
        let id = state.withLock { s in
            s.nextSubscriber += 1
            s.subscribers[s.nextSubscriber] = continuation
            return s.nextSubscriber
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    func heartbeat(from node: NodeID, now: NIODeadline = .now()) {
        state.withLock { $0.detector.heartbeat(from: node, at: now) }
    }

    func merge(_ members: [Member], now: NIODeadline = .now()) -> [MembershipEvent] {
        update { s in
            let events = s.membership.merge(members, now: now)
            Self.watchNewMembers(events, in: &s, now: now)
            return events
        }
    }

    func setLocalStatus(_ status: MemberStatus) -> [MembershipEvent] {
        update { $0.membership.setLocalStatus(status) }
    }

    func updateLocal(weight: Double?, services: [MemberService]?) -> [MembershipEvent] {
        update { $0.membership.updateLocal(weight: weight, services: services) }
    }

    func markDown(_ node: NodeID, now: NIODeadline = .now()) -> [MembershipEvent] {
        update { s in
            s.detector.forget(node)
            return s.membership.markDown(node, now: now)
        }
    }

    /// Timer work: members silent for too long are marked down; down members age into removed.
    func tick(now: NIODeadline = .now()) -> [MembershipEvent] {
        update { s in
            var events: [MembershipEvent] = []
            for node in s.detector.check(now: now) where node != s.membership.local.id {
                s.detector.forget(node)
                events += s.membership.markDown(node, now: now)
            }
            events += s.membership.prune(now: now)
            return events
        }
    }

    func finish() {
        let subscribers = state.withLock { s in
            defer { s.subscribers.removeAll() }
            return Array(s.subscribers.values)
        }
        for subscriber in subscribers { subscriber.finish() }
    }

    // MARK: Private

    /// A member that appears (or comes back) is watched from now: silent from the start, it is declared down.
    private static func watchNewMembers(_ events: [MembershipEvent], in s: inout State, now: NIODeadline) {
        for event in events {
            guard case .changed(let member, _) = event, member.id != s.membership.local.id else { continue }
            if member.status < .down { s.detector.heartbeat(from: member.id, at: now) } else { s.detector.forget(member.id) }
        }
    }

    /// Applies a change; caches and subscribers are updated under the same lock, so events arrive in order.
    private func update(_ body: (inout State) -> [MembershipEvent]) -> [MembershipEvent] {
        state.withLock { s in
            let events = body(&s)
            guard !events.isEmpty else { return events }
            refreshCaches(s.membership)
            for event in events {
                for subscriber in s.subscribers.values { subscriber.yield(event) }
            }
            return events
        }
    }

    private func refreshCaches(_ membership: MembershipState) {
        let snapshot = membership.snapshot
        cachedSnapshot.withLock { $0 = snapshot }
        let candidates = snapshot.upBrokers.map { OwnershipCandidate(name: $0.id.name, weight: $0.weight) }
        cachedCandidates.withLock { $0 = candidates }
    }
}
