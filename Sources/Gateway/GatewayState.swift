import ClusterTransport
import NIOCore
import Synchronization

/// The gateway's shared state: each backend's health and the client connections proxied to it. Thread-safe (one
/// mutex); the listener reads it to route clients, the health checker updates it.
final class GatewayState: Sendable {
    let backends: [Backend]

    private struct Inner {
        var health: [NodeName: HealthStateMachine]
        /// Client channels proxied to each backend, by registration number.
        var proxied: [NodeName: [Int: any Channel]]
        var nextID = 0
    }

    private let inner: Mutex<Inner>

    init(backends: [Backend], rise: Int, fall: Int) {
        self.backends = backends
        inner = Mutex(Inner(
            health: Dictionary(uniqueKeysWithValues: backends.map { ($0.name, HealthStateMachine(rise: rise, fall: fall)) }),
            proxied: Dictionary(uniqueKeysWithValues: backends.map { ($0.name, [:]) })))
    }

    /// The backends to try for `clientID`, best first (`BackendChooser`).
    func candidates(for clientID: String) -> [Backend] {
        let (healthy, counts) = inner.withLock { inner in
            (Set(inner.health.filter { $0.value.isHealthy }.keys), inner.proxied.mapValues(\.count))
        }
        let byName = Dictionary(uniqueKeysWithValues: backends.map { ($0.name, $0) })
        return BackendChooser.order(clientID: clientID, backends: backends, healthy: healthy, connections: counts)
            .compactMap { byName[$0] }
    }

    func isHealthy(_ name: NodeName) -> Bool { inner.withLock { $0.health[name]?.isHealthy ?? false } }

    /// Client connections currently proxied to `name`.
    func connectionCount(_ name: NodeName) -> Int { inner.withLock { $0.proxied[name]?.count ?? 0 } }

    /// Records `client` as proxied to `backend` until it closes. Returns false (and records nothing) when the
    /// backend is unhealthy by now: the caller closes the client, which would otherwise miss the sweep that closed
    /// that backend's clients.
    func register(_ client: any Channel, on backend: NodeName) -> Bool {
        let id: Int? = inner.withLock { inner in
            guard inner.health[backend]?.isHealthy ?? false || inner.health.values.allSatisfy({ !$0.isHealthy })
            else { return nil }
            inner.nextID += 1
            inner.proxied[backend, default: [:]][inner.nextID] = client
            return inner.nextID
        }
        guard let id else { return false }
        client.closeFuture.whenComplete { [self] _ in
            _ = inner.withLock { $0.proxied[backend]?.removeValue(forKey: id) }
        }
        return true
    }

    /// Records a health check result for `backend`. On a healthy → unhealthy transition, returns the client
    /// connections proxied to it (now forgotten), for the caller to close.
    func record(check success: Bool, for backend: NodeName) -> (HealthStateMachine.Transition?, [any Channel]) {
        inner.withLock { inner in
            guard var machine = inner.health[backend] else { return (nil, []) }
            let transition = machine.record(success: success)
            inner.health[backend] = machine
            guard transition == .becameUnhealthy else { return (transition, []) }
            let channels = Array(inner.proxied[backend, default: [:]].values)
            inner.proxied[backend] = [:]
            return (transition, channels)
        }
    }

    /// Every proxied client connection (for shutdown).
    func allConnections() -> [any Channel] {
        inner.withLock { $0.proxied.values.flatMap(\.values) }
    }
}
