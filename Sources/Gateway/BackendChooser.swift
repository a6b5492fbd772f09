import ClusterTransport

/// Where a new client goes: pure, from the backends, their health and the gateway's current connection counts.
///
/// - A non-empty client ID goes to the owner of `session/<clientID>` (the **full** ID, however long) among the
///   healthy backends: `Ownership.preferenceList` over the healthy backends' names and weights, exactly as the nodes
///   place sessions, so the TCP connection lands on the node that holds the session. The rest of that list follows,
///   in order, as fallbacks for a refused connection (any node can reach the session remotely).
/// - An empty client ID (the server assigns one) has no owner: it goes to the healthy backend with the fewest
///   gateway connections relative to its weight (ties: smaller name first), then the others in that order.
/// - When no backend is healthy, every backend is tried in the same order (the health view may be stale, for
///   example right after a restart of every node); a node that is really down just refuses the connection.
enum BackendChooser {
    /// The session key a client's connection is routed by.
    static func sessionKey(clientID: String) -> String { "session/\(clientID)" }

    /// Backend names to try for `clientID`, best first.
    static func order(
        clientID: String, backends: [Backend], healthy: Set<NodeName>, connections: [NodeName: Int]
    ) -> [NodeName] {
        let eligible = backends.filter { healthy.contains($0.name) }
        let pool = eligible.isEmpty ? backends : eligible
        if clientID.isEmpty {
            return leastLoaded(pool, connections: connections)
        }
        return Ownership.preferenceList(
            for: sessionKey(clientID: clientID),
            among: pool.map { OwnershipCandidate(name: $0.name, weight: $0.weight) })
    }

    /// `backends` ordered by connections / weight ascending, then by name.
    static func leastLoaded(_ backends: [Backend], connections: [NodeName: Int]) -> [NodeName] {
        backends
            .map { (name: $0.name, load: Double(connections[$0.name] ?? 0) / $0.weight) }
            .sorted { $0.load != $1.load ? $0.load < $1.load : $0.name < $1.name }
            .map(\.name)
    }
}
