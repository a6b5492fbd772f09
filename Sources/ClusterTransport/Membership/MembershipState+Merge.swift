import NIOCore

/// Merging gossip.
///
/// For another member's name, the records form a join-semilattice and `merge` keeps the maximum, so merging is
/// commutative, associative and idempotent and replicas that saw the same records agree, whatever the order:
/// - A higher incarnation replaces the record (the old incarnation counts as dead: it is reported removed, then
///   the new one as new). A lower incarnation is stale and ignored.
/// - Same incarnation: the higher `version` wins; at equal versions the more severe status wins (joining < up <
///   leaving < down < removed); records that still tie are ordered by their other fields (`Member.supersedes`).
/// - A tombstone (removed) therefore shadows every record of that incarnation up to its version: the incarnation
///   comes back only with a higher version, which only the member itself produces (refutation), or as a higher
///   incarnation.
///
/// For the local member's name the local record is the truth:
/// - Other incarnations are ignored (a lower one is stale; a higher one cannot be adopted by this process).
/// - Refutation: a record of the local incarnation that would win (a peer marked us down, or the tombstone of a
///   partition) is answered by setting the local version above it while keeping the real status, so the local
///   record wins everywhere again. This is how a partitioned-but-alive node comes back after the partition heals.
///   A member that is already leaving (or down) accepts down and removed instead of refuting.
///
/// Records with a version above `maximumVersion` or an invalid weight are ignored.
extension MembershipState {
    /// Merges records received from a peer; returns the visible changes, in order.
    public mutating func merge(_ remote: [Member], now: NIODeadline) -> [MembershipEvent] {
        var events: [MembershipEvent] = []
        for incoming in remote {
            guard incoming.version <= Self.maximumVersion, Member.isValidWeight(incoming.weight) else { continue }
            if incoming.id.name == local.id.name {
                mergeLocal(incoming, into: &events)
            } else {
                mergeOther(incoming, now: now, into: &events)
            }
        }
        return record(events)
    }

    private mutating func mergeLocal(_ incoming: Member, into events: inout [MembershipEvent]) {
        guard incoming.id.incarnation == local.id.incarnation, incoming.supersedes(local) else { return }
        if local.status >= .leaving, incoming.status >= .down {
            let previous = local.status
            local.version = incoming.version
            local.status = max(local.status, incoming.status)
            if local.status != previous { events.append(.changed(local, previous: previous)) }
        } else {
            local.version = Self.next(incoming.version)
        }
    }

    private mutating func mergeOther(_ incoming: Member, now: NIODeadline, into events: inout [MembershipEvent]) {
        let name = incoming.id.name
        guard let existing = others[name] else {
            others[name] = Record(member: incoming, since: now)
            if incoming.status != .removed { events.append(.changed(incoming, previous: nil)) }
            return
        }
        let current = existing.member
        if incoming.id.incarnation < current.id.incarnation { return }
        if incoming.id.incarnation > current.id.incarnation {
            if current.status != .removed {
                var gone = current
                gone.status = .removed
                events.append(.changed(gone, previous: current.status))
            }
            others[name] = Record(member: incoming, since: now)
            if incoming.status != .removed { events.append(.changed(incoming, previous: nil)) }
            return
        }
        guard incoming.supersedes(current) else { return }
        others[name] = Record(member: incoming, since: incoming.status == current.status ? existing.since : now)
        switch (current.status == .removed, incoming.status == .removed) {
        case (true, true):
            break
        case (true, false):
            events.append(.changed(incoming, previous: nil))
        case (false, _):
            if incoming.status != current.status || incoming.endpoint != current.endpoint
                || incoming.role != current.role || incoming.weight != current.weight
                || incoming.services != current.services
            {
                events.append(.changed(incoming, previous: current.status))
            }
        }
    }
}
