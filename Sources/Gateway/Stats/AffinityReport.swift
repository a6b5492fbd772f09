import ClusterTransport

/// "Where does client X go, and why": the answer `BackendChooser` gives for one client ID, with the figures behind
/// it. Pure; the stats page shows it for `/stats?client=X`.
struct AffinityReport: Sendable, Codable, Equatable {
    /// One backend as the chooser saw it.
    struct Candidate: Sendable, Codable, Equatable {
        var name: NodeName
        var weight: Double
        var healthy: Bool
        /// The gateway's client connections to it now.
        var connections: Int
        /// Its weighted rendezvous score for `key` (`Ownership.score`); the highest among the pool wins a non-empty
        /// client ID. Nil for a weight that can never be chosen.
        var score: Double?
    }

    /// The client ID as asked (any string; escape it before showing it).
    var clientID: String
    /// The key the client is routed by (`BackendChooser.sessionKey`).
    var key: String
    /// Every configured backend, in configuration order.
    var candidates: [Candidate]
    /// The backends to try, best first: exactly `BackendChooser.order`.
    var order: [NodeName]
    /// The first of `order`; nil without any backend.
    var chosen: NodeName?
    /// One line saying why `chosen` was picked.
    var reason: String

    /// The report for `clientID`, from the same inputs `BackendChooser.order` takes; its `order` is that function's
    /// answer, so the report cannot disagree with the routing.
    static func make(
        clientID: String, backends: [Backend], healthy: Set<NodeName>, connections: [NodeName: Int]
    ) -> AffinityReport {
        let key = BackendChooser.sessionKey(clientID: clientID)
        let order = BackendChooser.order(
            clientID: clientID, backends: backends, healthy: healthy, connections: connections)
        let candidates = backends.map { backend in
            let score = Ownership.score(for: key, candidate: OwnershipCandidate(name: backend.name, weight: backend.weight))
            return Candidate(
                name: backend.name, weight: backend.weight, healthy: healthy.contains(backend.name),
                connections: connections[backend.name] ?? 0, score: score.isFinite ? score : nil)
        }
        let healthyCount = backends.filter { healthy.contains($0.name) }.count
        return AffinityReport(
            clientID: clientID, key: key, candidates: candidates, order: order, chosen: order.first,
            reason: reason(clientID: clientID, backendCount: backends.count, healthyCount: healthyCount))
    }

    static func reason(clientID: String, backendCount: Int, healthyCount: Int) -> String {
        guard backendCount > 0 else { return "no backend configured" }
        let rule = clientID.isEmpty ? "fewest connections per weight" : "highest weighted score"
        if healthyCount == 0 {
            return "no healthy backend: trying all \(count(backendCount)), \(rule) first"
        }
        let pool = "the \(count(healthyCount, healthy: true))"
        return clientID.isEmpty ? "empty client ID: \(rule) among \(pool)" : "\(rule) among \(pool)"
    }

    private static func count(_ number: Int, healthy: Bool = false) -> String {
        let noun = number == 1 ? "backend" : "backends"
        return healthy ? "\(number) healthy \(noun)" : "\(number) \(noun)"
    }
}
