import NIOCore

/// The membership as one node sees it: pure state, no I/O, time passed in. The gossip and heartbeat shell feeds it
/// remote records (`merge`), failure-detector verdicts (`markDown`) and the clock (`prune`), sends `gossip` to peers
/// and publishes `snapshot` after every call that returned events.
///
/// Rules (the merge rules proper are in `MembershipState+Merge.swift`):
/// - Records are keyed by node name; one record per name.
/// - Only the member itself changes its own record (`setLocalStatus`, `updateLocal`), bumping its version. Others only mark it
///   down (`markDown`: version + 1).
/// - A down member becomes removed after `removeAfter` (same version: at equal versions the more severe status
///   wins, so the removal spreads without racing a refutation). A removed record stays as a tombstone for
///   `tombstoneTTL`, so stale gossip cannot bring that incarnation back, then it is forgotten.
/// - `epoch` counts visible changes: it grows by one for each returned event and never goes down.
public struct MembershipState: Sendable {
    /// Timing of the removal of down members and of tombstones.
    public struct Configuration: Sendable, Equatable {
        /// How long a member stays down (visible, not owning anything) before it is removed.
        public var removeAfter: TimeAmount
        /// How long a removed record is kept to shadow stale gossip before it is forgotten.
        public var tombstoneTTL: TimeAmount

        public init(removeAfter: TimeAmount = .seconds(5), tombstoneTTL: TimeAmount = .seconds(60)) {
            self.removeAfter = removeAfter
            self.tombstoneTTL = tombstoneTTL
        }
    }

    /// A record of another member and when its current status was first seen here.
    struct Record: Sendable, Equatable {
        var member: Member
        var since: NIODeadline
    }

    /// Records with a version above this are rejected by `merge` (no honest member gets anywhere near it), so that
    /// adding one to a version can never overflow.
    public static let maximumVersion: UInt64 = 1 << 62

    public let configuration: Configuration
    /// This node's own record.
    public internal(set) var local: Member
    /// Grows by one for each visible change (each returned event).
    public private(set) var epoch: UInt64 = 0
    /// Every other member's record, tombstones included.
    var others: [NodeName: Record] = [:]

    /// A membership that knows only the local member, as given (usually `.joining`).
    public init(local: Member, configuration: Configuration = .init()) {
        self.local = local
        self.configuration = configuration
    }

    /// The visible membership: the local member and every other member that is not removed, sorted by name.
    public var snapshot: MembershipSnapshot {
        var members = [local]
        members.reserveCapacity(others.count + 1)
        for record in others.values where record.member.status != .removed { members.append(record.member) }
        return MembershipSnapshot(epoch: epoch, members: members)
    }

    /// Everything to send to a peer: all records, the local one and tombstones included, sorted by name.
    public var gossip: [Member] {
        var members = [local]
        members.reserveCapacity(others.count + 1)
        for record in others.values { members.append(record.member) }
        return members.sorted { $0.id.name < $1.id.name }
    }

    /// Moves the local member forward (joining → up → leaving → down → removed; steps may be skipped). Moving
    /// backwards or to the same status does nothing.
    public mutating func setLocalStatus(_ status: MemberStatus) -> [MembershipEvent] {
        guard status > local.status else { return [] }
        let previous = local.status
        local.status = status
        local.version = Self.next(local.version)
        return record([.changed(local, previous: previous)])
    }

    /// Changes the local member's weight and services (each when given), bumping the version, so the gossip carries
    /// the new record everywhere. Reported as a change with the unchanged status as `previous`. Nothing changes
    /// (and nothing is reported) when the values are the same, or the weight is invalid, or there are too many
    /// services.
    public mutating func updateLocal(weight: Double? = nil, services: [MemberService]? = nil) -> [MembershipEvent] {
        var updated = local
        if let weight {
            guard Member.isValidWeight(weight) else { return [] }
            updated.weight = weight
        }
        if let services {
            guard let normalised = MemberService.normalised(services) else { return [] }
            updated.services = normalised
        }
        guard updated != local else { return [] }
        updated.version = Self.next(local.version)
        local = updated
        return record([.changed(local, previous: local.status)])
    }

    /// The failure detector's verdict: marks that incarnation down (version + 1) unless it is already down or
    /// removed, or is not the incarnation known here, or is the local member.
    public mutating func markDown(_ id: NodeID, now: NIODeadline) -> [MembershipEvent] {
        guard id.name != local.id.name, var entry = others[id.name], entry.member.id == id,
            entry.member.status < .down
        else { return [] }
        let previous = entry.member.status
        entry.member.status = .down
        entry.member.version = Self.next(entry.member.version)
        entry.since = now
        others[id.name] = entry
        return record([.changed(entry.member, previous: previous)])
    }

    /// Removes members that have been down for `removeAfter` and forgets tombstones older than `tombstoneTTL`.
    public mutating func prune(now: NIODeadline) -> [MembershipEvent] {
        var events: [MembershipEvent] = []
        for name in others.keys.sorted() {
            guard var entry = others[name] else { continue }
            let age = now - entry.since
            switch entry.member.status {
            case .down where age >= configuration.removeAfter:
                entry.member.status = .removed
                entry.since = now
                others[name] = entry
                events.append(.changed(entry.member, previous: .down))
            case .removed where age >= configuration.tombstoneTTL:
                others[name] = nil
            default:
                break
            }
        }
        return record(events)
    }

    /// Counts `events` into the epoch and returns them.
    mutating func record(_ events: [MembershipEvent]) -> [MembershipEvent] {
        epoch += UInt64(events.count)
        return events
    }

    /// `version + 1`, saturating (unreachable in practice, see `maximumVersion`).
    static func next(_ version: UInt64) -> UInt64 { version == .max ? .max : version + 1 }
}
