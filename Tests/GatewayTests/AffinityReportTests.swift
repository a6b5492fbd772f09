import ClusterTransport
import Testing

@testable import Gateway

/// The "where does client X go" report agrees with the router, and its scores explain the choice.
@Suite("affinity report")
struct AffinityReportTests {
    static let backends = StatsFixtures.weighted
    static let allNames = Set(backends.map(\.name))

    static func check(_ clientID: String, healthy: Set<NodeName>, connections: [NodeName: Int] = [:]) {
        let report = AffinityReport.make(
            clientID: clientID, backends: backends, healthy: healthy, connections: connections)
        let routed = BackendChooser.order(
            clientID: clientID, backends: backends, healthy: healthy, connections: connections)
        #expect(report.order == routed, "\(clientID)")
        #expect(report.chosen == routed.first, "\(clientID)")
        #expect(report.key == "session/\(clientID)")
        #expect(report.candidates.map(\.name) == backends.map(\.name))
        #expect(report.candidates.map(\.healthy) == backends.map { healthy.contains($0.name) })
        // The figures explain the order: over the pool, descending score (connections per weight ascending for an
        // empty ID) is exactly the routing order.
        let pool = healthy.isEmpty ? report.candidates : report.candidates.filter(\.healthy)
        let explained = clientID.isEmpty
            ? pool.sorted { (Double($0.connections) / $0.weight, $0.name) < (Double($1.connections) / $1.weight, $1.name) }
            : pool.sorted { ($0.score ?? -1) > ($1.score ?? -1) }
        #expect(explained.map(\.name) == routed, "\(clientID)")
        for candidate in report.candidates {
            #expect(candidate.score == Ownership.score(
                for: report.key, candidate: OwnershipCandidate(name: candidate.name, weight: candidate.weight)))
        }
    }

    @Test("agrees with BackendChooser over 1,000 client IDs, weights 5/2/3, all healthy")
    func allHealthy() {
        var wins: [NodeName: Int] = [:]
        for k in 0..<1_000 {
            Self.check("client-\(k)", healthy: Self.allNames)
            let report = AffinityReport.make(
                clientID: "client-\(k)", backends: Self.backends, healthy: Self.allNames, connections: [:])
            wins[report.chosen!, default: 0] += 1
            #expect(report.reason == "highest weighted score among the 3 healthy backends")
        }
        // Shares follow the weights (0.5 / 0.2 / 0.3), within a generous margin.
        #expect((420...580).contains(wins[Self.backends[0].name] ?? 0))
        #expect((140...260).contains(wins[Self.backends[1].name] ?? 0))
        #expect((230...370).contains(wins[Self.backends[2].name] ?? 0))
    }

    @Test("agrees with BackendChooser over 1,000 client IDs with one backend unhealthy, which is never chosen",
          arguments: [0, 1, 2])
    func oneUnhealthy(down: Int) {
        let downName = Self.backends[down].name
        let healthy = Self.allNames.subtracting([downName])
        for k in 0..<1_000 {
            Self.check("id/\(k)/ü", healthy: healthy)
        }
        let report = AffinityReport.make(clientID: "x", backends: Self.backends, healthy: healthy, connections: [:])
        #expect(!report.order.contains(downName))
        #expect(report.candidates.first { $0.name == downName }?.healthy == false)
        #expect(report.reason == "highest weighted score among the 2 healthy backends")
    }

    @Test("an empty client ID goes to the fewest connections per weight")
    func emptyClientID() {
        let names = Self.backends.map(\.name)
        // Loads: n1 10/5 = 2, n2 1/2 = 0.5, n3 3/3 = 1.
        let connections = [names[0]: 10, names[1]: 1, names[2]: 3]
        Self.check("", healthy: Self.allNames, connections: connections)
        let report = AffinityReport.make(
            clientID: "", backends: Self.backends, healthy: Self.allNames, connections: connections)
        #expect(report.order == [names[1], names[2], names[0]])
        #expect(report.reason == "empty client ID: fewest connections per weight among the 3 healthy backends")
        #expect(report.candidates.map(\.connections) == [10, 1, 3])
    }

    @Test("no healthy backend: every backend is tried, and the reason says so")
    func noneHealthy() {
        for k in 0..<200 { Self.check("c\(k)", healthy: []) }
        let report = AffinityReport.make(clientID: "c", backends: Self.backends, healthy: [], connections: [:])
        #expect(report.order.count == 3)
        #expect(report.reason == "no healthy backend: trying all 3 backends, highest weighted score first")
    }

    @Test("no backend at all: nowhere to go")
    func noBackends() {
        let report = AffinityReport.make(clientID: "c", backends: [], healthy: [], connections: [:])
        #expect(report.chosen == nil)
        #expect(report.order.isEmpty)
        #expect(report.reason == "no backend configured")
    }

    @Test("Ownership.score is what preferenceList ranks by, and -infinity for a weight never chosen")
    func ownershipScore() {
        let candidates = Self.backends.map { OwnershipCandidate(name: $0.name, weight: $0.weight) }
        for k in 0..<300 {
            let key = "session/k\(k)"
            let ranked = candidates.sorted {
                Ownership.score(for: key, candidate: $0) > Ownership.score(for: key, candidate: $1)
            }.map(\.name)
            #expect(ranked == Ownership.preferenceList(for: key, among: candidates))
        }
        let name = Self.backends[0].name
        #expect(Ownership.score(for: "k", candidate: OwnershipCandidate(name: name, weight: 0)) == -.infinity)
        #expect(Ownership.score(for: "k", candidate: OwnershipCandidate(name: name, weight: .nan)) == -.infinity)
        // Doubling a weight doubles the score.
        let one = Ownership.score(for: "k", candidate: OwnershipCandidate(name: name, weight: 1))
        #expect(Ownership.score(for: "k", candidate: OwnershipCandidate(name: name, weight: 2)) == 2 * one)
    }
}
