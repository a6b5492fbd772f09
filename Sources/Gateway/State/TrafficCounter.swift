import Synchronization

/// Bytes copied through the gateway for one backend, both ways; updated by the `GlueHandler`s of its connections.
final class TrafficCounter: Sendable {
    /// Bytes read from clients and written to the backend.
    let fromClients = Atomic<UInt64>(0)
    /// Bytes read from the backend and written to clients.
    let toClients = Atomic<UInt64>(0)

    func add(_ count: Int, fromClient: Bool) {
        if fromClient {
            fromClients.wrappingAdd(UInt64(count), ordering: .relaxed)
        } else {
            toClients.wrappingAdd(UInt64(count), ordering: .relaxed)
        }
    }
}
