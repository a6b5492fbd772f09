import ClusterTransport
import Testing

@testable import BrokerActors

@Suite struct ClusterHealthTests {
    static let local = NodeName("n1")!

    static func member(_ name: String, _ status: MemberStatus, role: MemberRole = .broker, incarnation: UInt64 = 1) -> Member {
        Member(
            id: NodeID(name: NodeName(name)!, incarnation: Incarnation(rawValue: incarnation)),
            endpoint: Endpoint(host: "127.0.0.1", port: 7000)!, role: role, status: status)
    }

    /// Folds `changes` in, checking each `observe` result against whether the answer changed.
    static func fold(_ health: inout ClusterHealth, _ changes: [Member]) {
        for change in changes {
            let before = health.isPartitioned
            let changed = health.observe(change)
            #expect(changed == (before != health.isPartitioned), "observe(\(change)) returned \(changed)")
        }
    }

    @Test func aNodeAloneIsNeverPartitioned() {
        var health = ClusterHealth(local: Self.local)
        #expect(!health.isPartitioned)
        #expect(health.known == [Self.local] && health.up == [Self.local])
        #expect(health.observe(Self.member("n1", .up)) == false)
        #expect(!health.isPartitioned)
    }

    @Test func majorityOfThreeBrokers() {
        var health = ClusterHealth(local: Self.local)
        #expect(health.observe(Self.member("n1", .up)) == false)
        #expect(health.observe(Self.member("n2", .up)) == false)
        #expect(health.observe(Self.member("n3", .up)) == false)
        #expect(!health.isPartitioned)
        #expect(health.known.count == 3 && health.up.count == 3)

        #expect(health.observe(Self.member("n2", .down)) == false)  // 2 of 3 up
        #expect(!health.isPartitioned)
        #expect(health.known.count == 3)

        #expect(health.observe(Self.member("n3", .down)) == true)  // 1 of 3 up
        #expect(health.isPartitioned)
        #expect(health.observe(Self.member("n3", .removed)) == false)  // still gone, still counted
        #expect(health.isPartitioned)

        #expect(health.observe(Self.member("n2", .up, incarnation: 2)) == true)  // back (restarted): 2 of 3
        #expect(!health.isPartitioned)
        #expect(health.known.count == 3)
    }

    @Test func twoOfFourIsNotAMajority() {
        var health = ClusterHealth(local: Self.local)
        Self.fold(&health, ["n2", "n3", "n4"].map { Self.member($0, .up) })
        #expect(!health.isPartitioned)
        #expect(health.observe(Self.member("n4", .down)) == false)  // 3 of 4
        #expect(health.observe(Self.member("n3", .down)) == true)  // 2 of 4: an even split is no majority
        #expect(health.isPartitioned)
    }

    @Test func aGracefulLeaveShrinksTheCluster() {
        var health = ClusterHealth(local: Self.local)
        Self.fold(&health, ["n2", "n3"].map { Self.member($0, .up) })
        #expect(health.observe(Self.member("n3", .leaving)) == false)  // 2 up of 2
        #expect(!health.isPartitioned)
        #expect(health.known == [Self.local, NodeName("n2")!])
        // What follows the leave (down, removed) does not make it count again.
        #expect(health.observe(Self.member("n3", .down)) == false)
        #expect(health.observe(Self.member("n3", .removed)) == false)
        #expect(health.known.count == 2 && !health.isPartitioned)
        // Then one more goes down: 1 of 2.
        #expect(health.observe(Self.member("n2", .down)) == true)
        #expect(health.isPartitioned)
        #expect(health.observe(Self.member("n2", .up)) == true)
        #expect(!health.isPartitioned)
    }

    @Test func gatewaysAreIgnored() {
        var health = ClusterHealth(local: Self.local)
        #expect(health.observe(Self.member("g1", .up, role: .gateway)) == false)
        #expect(health.observe(Self.member("g2", .up, role: .gateway)) == false)
        #expect(health.known == [Self.local] && health.up == [Self.local])
        Self.fold(&health, ["n2", "n3"].map { Self.member($0, .up) })
        Self.fold(&health, ["n2", "n3"].map { Self.member($0, .down) })
        #expect(health.isPartitioned)
        // Gateways up (or leaving) do not restore a majority.
        #expect(health.observe(Self.member("g1", .up, role: .gateway)) == false)
        #expect(health.observe(Self.member("g3", .leaving, role: .gateway)) == false)
        #expect(health.isPartitioned)
        #expect(health.known.count == 3 && health.up == [Self.local])
    }

    @Test func joiningMembersDoNotCountUntilUp() {
        var health = ClusterHealth(local: Self.local)
        Self.fold(&health, ["n2", "n3"].map { Self.member($0, .joining) })
        #expect(health.known == [Self.local])
        #expect(!health.isPartitioned)
    }

    /// A random walk over memberships: `observe` answers exactly whether `isPartitioned` changed, and the answer
    /// matches the majority rule recomputed from scratch.
    @Test(arguments: 0..<20)
    func observeReportsExactlyTheChanges(seed: UInt64) {
        var g = RoutingGenerator(seed: seed)
        var health = ClusterHealth(local: Self.local)
        var known: Set<String> = ["n1"]
        var up: Set<String> = ["n1"]
        var changes = 0
        for _ in 0..<200 {
            let name = g.pick(["n2", "n3", "n4", "n5", "g1"])
            let status = g.pick([MemberStatus.joining, .up, .up, .leaving, .down, .removed])
            let role: MemberRole = name.hasPrefix("g") ? .gateway : .broker
            let before = health.isPartitioned
            let changed = health.observe(Self.member(name, status, role: role))
            if role == .broker {
                switch status {
                case .up: known.insert(name); up.insert(name)
                case .leaving: known.remove(name); up.remove(name)
                default: up.remove(name)
                }
            }
            guard health.isPartitioned == (up.count * 2 <= known.count), changed == (before != health.isPartitioned) else {
                Issue.record("seed \(seed): after \(name) \(status): partitioned \(health.isPartitioned) (up \(up.sorted()), known \(known.sorted())), observe returned \(changed)")
                return
            }
            if changed { changes += 1 }
        }
        #expect(changes > 0)
    }
}
