import Foundation
import NIOCore
import Testing

@testable import ClusterTransport

private func name(_ text: String) -> NodeName { NodeName(text)! }

private func member(
    _ text: String, incarnation: UInt64 = 1, status: MemberStatus = .up, version: UInt64 = 1,
    weight: Double = 1, role: MemberRole = .broker
) -> Member {
    Member(
        id: NodeID(name: name(text), incarnation: Incarnation(rawValue: incarnation)),
        endpoint: Endpoint(host: "\(text).cluster", port: 7000)!, role: role, weight: weight, status: status,
        version: version)
}

private func at(_ milliseconds: Int64) -> NIODeadline { .uptimeNanoseconds(UInt64(milliseconds) * 1_000_000) }

/// A state whose local member is `text`, up.
private func state(_ text: String, incarnation: UInt64 = 1) -> MembershipState {
    var state = MembershipState(local: member(text, incarnation: incarnation, status: .joining))
    _ = state.setLocalStatus(.up)
    return state
}

@Suite struct MembershipTests {
    @Test func memberDecodingRejectsInvalidWeight() throws {
        let good = member("a", weight: 2.5)
        let data = try JSONEncoder().encode(good)
        #expect(try JSONDecoder().decode(Member.self, from: data) == good)
        for bad in ["-1", "1000001", "-0.5"] {
            let text = String(decoding: data, as: UTF8.self).replacingOccurrences(of: "2.5", with: bad)
            #expect(throws: DecodingError.self) { try JSONDecoder().decode(Member.self, from: Data(text.utf8)) }
        }
        #expect(Member(id: good.id, endpoint: good.endpoint, weight: .nan).weight == 1)
        #expect(Member(id: good.id, endpoint: good.endpoint, weight: -2).weight == 1)
        #expect(Member(id: good.id, endpoint: good.endpoint, weight: 0).weight == 0)
    }

    @Test func localStatusOnlyMovesForward() {
        var state = MembershipState(local: member("a", status: .joining, version: 1))
        #expect(state.epoch == 0)
        let events = state.setLocalStatus(.up)
        #expect(events == [.changed(member("a", status: .up, version: 2), previous: .joining)])
        #expect(state.epoch == 1)
        #expect(state.setLocalStatus(.joining).isEmpty)
        #expect(state.setLocalStatus(.up).isEmpty)
        #expect(state.epoch == 1)
        #expect(state.setLocalStatus(.leaving) == [.changed(member("a", status: .leaving, version: 3), previous: .up)])
        #expect(state.local.status == .leaving && state.epoch == 2)
    }

    @Test func mergeAddsAndIsIdempotent() {
        var state = state("a")
        let epoch = state.epoch
        let b = member("b", status: .joining)
        #expect(state.merge([b], now: at(0)) == [.changed(b, previous: nil)])
        #expect(state.epoch == epoch + 1)
        #expect(state.merge([b], now: at(1)).isEmpty)
        #expect(state.merge(state.gossip, now: at(2)).isEmpty)
        #expect(state.epoch == epoch + 1)
        #expect(state.snapshot.members.map(\.id.name) == [name("a"), name("b")])
    }

    @Test func higherIncarnationReplacesLowerIsIgnored() {
        var state = state("a")
        let old = member("b", incarnation: 5, version: 9)
        _ = state.merge([old], now: at(0))
        let new = member("b", incarnation: 6, status: .joining, version: 1)
        var gone = old
        gone.status = .removed
        #expect(state.merge([new], now: at(1)) == [.changed(gone, previous: .up), .changed(new, previous: nil)])
        #expect(state.merge([old], now: at(2)).isEmpty)
        #expect(state.merge([member("b", incarnation: 4, status: .down, version: 99)], now: at(3)).isEmpty)
        #expect(state.snapshot.member(named: name("b")) == new)
        #expect(state.snapshot.members.count == 2)
    }

    @Test func sameIncarnationHigherVersionThenSeverityWins() {
        var state = state("a")
        _ = state.merge([member("b", status: .joining, version: 1)], now: at(0))
        #expect(state.merge([member("b", status: .up, version: 2)], now: at(1))
            == [.changed(member("b", status: .up, version: 2), previous: .joining)])
        // Lower version: stale, even with a more severe status.
        #expect(state.merge([member("b", status: .down, version: 1)], now: at(2)).isEmpty)
        // Equal version: the more severe status wins; the less severe does not.
        #expect(state.merge([member("b", status: .down, version: 2)], now: at(3))
            == [.changed(member("b", status: .down, version: 2), previous: .up)])
        #expect(state.merge([member("b", status: .up, version: 2)], now: at(4)).isEmpty)
        // A weight change from the member itself (higher version) is a visible change.
        #expect(state.merge([member("b", status: .down, version: 3, weight: 2)], now: at(5))
            == [.changed(member("b", status: .down, version: 3, weight: 2), previous: .down)])
    }

    @Test func othersCannotMoveTheLocalMember() {
        var state = MembershipState(local: member("a", status: .joining, version: 1))
        #expect(state.merge([member("a", status: .up, version: 7)], now: at(0)).isEmpty)
        #expect(state.local.status == .joining)
        #expect(state.local.version == 8)
        // Other incarnations of the local name are ignored.
        #expect(state.merge([member("a", incarnation: 2, status: .down, version: 1)], now: at(1)).isEmpty)
        #expect(state.merge([member("a", incarnation: 0, status: .up, version: 100)], now: at(1)).isEmpty)
        #expect(state.local == member("a", status: .joining, version: 8))
        #expect(state.epoch == 0)
    }

    @Test func markDownBumpsVersionOnce() {
        var state = state("a")
        let b = member("b", incarnation: 3, version: 4)
        _ = state.merge([b], now: at(0))
        // Wrong incarnation, unknown node and the local member are ignored.
        #expect(state.markDown(NodeID(name: name("b"), incarnation: Incarnation(rawValue: 2)), now: at(1)).isEmpty)
        #expect(state.markDown(member("c").id, now: at(1)).isEmpty)
        #expect(state.markDown(state.local.id, now: at(1)).isEmpty)
        let down = member("b", incarnation: 3, status: .down, version: 5)
        #expect(state.markDown(b.id, now: at(1)) == [.changed(down, previous: .up)])
        #expect(state.markDown(b.id, now: at(2)).isEmpty)
        #expect(state.snapshot.member(named: name("b")) == down)
        #expect(state.snapshot.upBrokers.map(\.id.name) == [name("a")])
    }

    @Test(arguments: [MemberStatus.down, .removed])
    func localRefutesDownAndRemoved(_ verdict: MemberStatus) {
        var state = state("a")
        let version = state.local.version
        #expect(state.merge([member("a", status: verdict, version: version + 1)], now: at(0)).isEmpty)
        #expect(state.local.status == .up)
        #expect(state.local.version == version + 2)
        // Equal version, more severe status: also refuted.
        #expect(state.merge([member("a", status: verdict, version: version + 2)], now: at(1)).isEmpty)
        #expect(state.local.status == .up && state.local.version == version + 3)
    }

    @Test func leavingMemberAcceptsDown() {
        var state = state("a")
        _ = state.setLocalStatus(.leaving)
        let version = state.local.version
        let events = state.merge([member("a", status: .down, version: version + 1)], now: at(0))
        #expect(events == [.changed(member("a", status: .down, version: version + 1), previous: .leaving)])
        #expect(state.local.status == .down)
    }

    @Test func partitionHeals() {
        var a = state("a")
        var b = state("b")
        _ = a.merge(b.gossip, now: at(0))
        _ = b.merge(a.gossip, now: at(0))
        // The partition: each marks the other down, then both prune past removeAfter (tombstones).
        _ = a.markDown(b.local.id, now: at(1000))
        _ = b.markDown(a.local.id, now: at(1000))
        #expect(a.snapshot.upBrokers.map(\.id.name) == [name("a")])
        _ = a.prune(now: at(7000))
        _ = b.prune(now: at(7000))
        #expect(a.snapshot.members.map(\.id.name) == [name("a")])
        // The partition heals: gossip both ways until nothing changes.
        for round in 0..<4 {
            _ = b.merge(a.gossip, now: at(8000 + Int64(round)))
            _ = a.merge(b.gossip, now: at(8000 + Int64(round)))
        }
        for side in [a, b] {
            #expect(side.snapshot.members.map(\.id.name) == [name("a"), name("b")])
            #expect(side.snapshot.members.allSatisfy { $0.status == .up })
            #expect(side.gossip.count == 2)
        }
        #expect(a.snapshot.members == b.snapshot.members)
    }

    @Test func partitionHealsWithoutPrune() {
        var a = state("a")
        var b = state("b")
        _ = a.merge(b.gossip, now: at(0))
        _ = b.merge(a.gossip, now: at(0))
        _ = a.markDown(b.local.id, now: at(1000))
        _ = b.markDown(a.local.id, now: at(1000))
        let events = b.merge(a.gossip, now: at(2000))  // b refutes, and still sees a down
        #expect(events.isEmpty)
        let back = a.merge(b.gossip, now: at(2000))  // a refutes, and sees b up again
        #expect(back.map(\.member.id.name) == [name("b")])
        _ = b.merge(a.gossip, now: at(2001))
        #expect(a.snapshot.members == b.snapshot.members)
        #expect(a.snapshot.members.count == 2 && a.snapshot.upBrokers.count == 2)
    }

    @Test func pruneRemovesDownThenForgetsTombstones() {
        var state = state("a")
        let b = member("b", version: 3)
        _ = state.merge([b], now: at(0))
        _ = state.markDown(b.id, now: at(1000))
        #expect(state.prune(now: at(5999)).isEmpty)
        let removed = member("b", status: .removed, version: 4)
        #expect(state.prune(now: at(6000)) == [.changed(removed, previous: .down)])
        #expect(state.snapshot.member(named: name("b")) == nil)
        #expect(state.gossip.contains(removed))
        // Stale gossip cannot bring the incarnation back.
        #expect(state.merge([b, member("b", status: .up, version: 4), member("b", status: .down, version: 4)],
            now: at(7000)).isEmpty)
        // The tombstone is kept for tombstoneTTL after the removal, then forgotten.
        #expect(state.prune(now: at(65_999)).isEmpty)
        #expect(state.gossip.count == 2)
        #expect(state.prune(now: at(66_000)).isEmpty)
        #expect(state.gossip.map(\.id.name) == [name("a")])
    }

    @Test func tombstonedIncarnationComesBackOnlyByRefutationOrNewIncarnation() {
        var state = state("a")
        _ = state.merge([member("b", status: .removed, version: 4)], now: at(0))
        #expect(state.snapshot.member(named: name("b")) == nil)
        let refuted = member("b", status: .up, version: 5)
        #expect(state.merge([refuted], now: at(1)) == [.changed(refuted, previous: nil)])

        _ = state.merge([member("c", incarnation: 1, status: .removed, version: 9)], now: at(2))
        let reborn = member("c", incarnation: 2, status: .joining, version: 1)
        #expect(state.merge([reborn], now: at(3)) == [.changed(reborn, previous: nil)])
    }

    @Test func invalidRecordsAreIgnored() {
        var state = state("a")
        var heavy = member("b")
        heavy.weight = -1
        var huge = member("c")
        huge.version = MembershipState.maximumVersion + 1
        var selfHuge = state.local
        selfHuge.status = .down
        selfHuge.version = .max
        #expect(state.merge([heavy, huge, selfHuge], now: at(0)).isEmpty)
        #expect(state.gossip.count == 1 && state.local.status == .up)
    }

    @Test func snapshotIsSortedAndFiltersUpBrokers() {
        var state = state("m")
        _ = state.merge(
            [member("z"), member("b", status: .joining), member("c", role: .gateway), member("d", status: .down),
             member("e", status: .removed)], now: at(0))
        let snapshot = state.snapshot
        #expect(snapshot.members.map(\.id.name.rawValue) == ["b", "c", "d", "m", "z"])
        #expect(snapshot.upBrokers.map(\.id.name.rawValue) == ["m", "z"])
        #expect(snapshot.member(named: name("c"))?.role == .gateway)
        #expect(snapshot.member(named: name("e")) == nil)
        #expect(snapshot.member(named: name("a")) == nil)
        #expect(snapshot.epoch == state.epoch)
        #expect(state.epoch == 5)  // 1 for a's own up, 4 visible additions
    }

    /// Random records (several incarnations, versions and statuses, some clashing in their other fields) delivered
    /// in random orders and batches, duplicates included, to several replicas: all converge to the same records,
    /// the per-name maximum, and gossip between them changes nothing more.
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func mergeConvergesWhateverTheOrder(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let names = ["n1", "n2", "n3", "n4", "n5"]
        let statuses: [MemberStatus] = [.joining, .up, .leaving, .down, .removed]
        let pool: [Member] = (0..<40).map { _ in
            member(
                names.randomElement(using: &random)!, incarnation: UInt64.random(in: 1...3, using: &random),
                status: statuses.randomElement(using: &random)!, version: UInt64.random(in: 1...5, using: &random),
                weight: [1.0, 2.0].randomElement(using: &random)!)
        }
        var replicas = ["r1", "r2", "r3", "r4"].map { state($0) }
        for index in replicas.indices {
            var deliveries = (pool + pool.filter { _ in Bool.random(using: &random) }).shuffled(using: &random)
            while !deliveries.isEmpty {
                let count = Int.random(in: 1...min(6, deliveries.count), using: &random)
                _ = replicas[index].merge(Array(deliveries.prefix(count)), now: at(Int64(index)))
                deliveries.removeFirst(count)
            }
        }
        func poolRecords(_ state: MembershipState) -> [Member] {
            state.gossip.filter { names.contains($0.id.name.rawValue) }
        }
        let expected = Dictionary(grouping: pool, by: \.id.name).values.map { records in
            records.max { lower, higher in
                lower.id.incarnation != higher.id.incarnation
                    ? lower.id.incarnation < higher.id.incarnation : higher.supersedes(lower)
            }!
        }.sorted { $0.id.name < $1.id.name }
        for replica in replicas { #expect(poolRecords(replica) == expected) }

        // Gossip among replicas in random pairs until everyone knows everyone: full agreement.
        for _ in 0..<40 {
            let from = Int.random(in: 0..<replicas.count, using: &random)
            let to = Int.random(in: 0..<replicas.count, using: &random)
            if from != to { _ = replicas[to].merge(replicas[from].gossip, now: at(100)) }
        }
        for index in replicas.indices {
            for other in replicas.indices { _ = replicas[index].merge(replicas[other].gossip, now: at(200)) }
        }
        let reference = replicas[0].gossip
        for replica in replicas {
            #expect(replica.gossip == reference)
            #expect(replica.snapshot.members == replicas[0].snapshot.members)
            let before = replica.epoch
            var again = replica
            #expect(again.merge(reference, now: at(300)).isEmpty)
            #expect(again.epoch == before)
        }
    }
}
