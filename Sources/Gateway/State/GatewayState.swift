import ClusterTransport
import Foundation
import NIOCore
import StarlingCLI
import Synchronization

/// The gateway's shared state: the backends (static, or learned from the cluster membership), their health, the
/// client connections proxied to each, and the gateway's own counters. Thread-safe (one mutex); the listeners read
/// it to route clients, the health checker and the membership follower update it.
final class GatewayState: Sendable {
    /// "cluster" (backends from the membership) or "static" (`--backend`).
    let mode: Mode
    let startedAt = Date()

    enum Mode: String, Sendable {
        case cluster
        case `static`
    }

    private struct Inner {
        var records: [NodeName: BackendRecord] = [:]
        var nextID = 0
        var accepted: UInt64 = 0
        var rejected: [String: UInt64] = [:]
    }

    private let inner: Mutex<Inner>
    /// The health checks' `--rise` and `--fall`.
    let riseCount: Int
    let fallCount: Int
    /// `--weight NAME=W`: replaces the node's (or the `--backend`) weight.
    let overrides: [NodeName: Double]

    /// A gateway with fixed backends (`--backend`).
    init(backends: [Backend], rise: Int, fall: Int, overrides: [NodeName: Double] = [:]) {
        mode = .static
        riseCount = rise
        fallCount = fall
        self.overrides = overrides
        var inner = Inner()
        for var backend in backends {
            let override = overrides[backend.name]
            backend.weight = override ?? backend.weight
            inner.records[backend.name] = BackendRecord(
                backend: backend, weightSource: override == nil ? .static : .override, membership: nil, rise: rise,
                fall: fall)
        }
        self.inner = Mutex(inner)
    }

    /// A gateway whose backends come from the cluster membership (`apply(members:)`).
    init(clusterWithRise rise: Int, fall: Int, overrides: [NodeName: Double] = [:]) {
        mode = .cluster
        riseCount = rise
        fallCount = fall
        self.overrides = overrides
        inner = Mutex(Inner())
    }

    /// The backends known now, in name order.
    var backends: [Backend] { inner.withLock { $0.records.values.map(\.backend) }.sorted { $0.name < $1.name } }

    /// The backends to try for `clientID`, best first (`BackendChooser`): the eligible ones (healthy, and up in
    /// the membership); when none is, every routable one.
    func candidates(for clientID: String) -> [Backend] {
        let (routable, eligible, counts) = inner.withLock { inner in
            let routable = inner.records.values.filter(\.isRoutable)
            return (
                routable.map(\.backend), Set(routable.filter(\.isEligible).map(\.backend.name)),
                inner.records.mapValues(\.proxied.count)
            )
        }
        let byName = Dictionary(uniqueKeysWithValues: routable.map { ($0.name, $0) })
        return BackendChooser.order(clientID: clientID, backends: routable, healthy: eligible, connections: counts)
            .compactMap { byName[$0] }
    }

    func isHealthy(_ name: NodeName) -> Bool { inner.withLock { $0.records[name]?.isEligible ?? false } }

    /// Client connections currently proxied to `name`.
    func connectionCount(_ name: NodeName) -> Int { inner.withLock { $0.records[name]?.proxied.count ?? 0 } }

    /// The byte counters of `name`'s connections.
    func traffic(for name: NodeName) -> TrafficCounter? { inner.withLock { $0.records[name]?.traffic } }

    /// Records `client` as proxied to `backend` until it closes. Returns false (and records nothing) when the
    /// backend is no longer routable, or is ineligible while others are eligible: the caller closes the client,
    /// which would otherwise miss the sweep that closed that backend's clients.
    func register(_ client: any Channel, on backend: NodeName) -> Bool {
        let id: Int? = inner.withLock { inner in
            guard let record = inner.records[backend], record.isRoutable,
                record.isEligible || !inner.records.values.contains(where: \.isEligible)
            else { return nil }
            inner.nextID += 1
            inner.records[backend]?.proxied[inner.nextID] = client
            inner.records[backend]?.totalConnections += 1
            inner.accepted += 1
            return inner.nextID
        }
        guard let id else { return false }
        client.closeFuture.whenComplete { [self] _ in
            _ = inner.withLock { $0.records[backend]?.proxied.removeValue(forKey: id) }
        }
        return true
    }

    /// Counts a client connection refused before it reached a backend, by reason (for `/stats`).
    func countRejected(_ reason: String) {
        inner.withLock { $0.rejected[reason, default: 0] += 1 }
    }

    /// Records a health check result for `backend`. On a healthy → unhealthy transition, returns the client
    /// connections proxied to it (now forgotten), for the caller to close.
    func record(check result: CheckResult, for backend: NodeName) -> (HealthStateMachine.Transition?, [any Channel]) {
        inner.withLock { inner in
            guard var record = inner.records[backend] else { return (nil, []) }
            let transition = record.health.record(success: result.success)
            record.lastCheck = result
            if transition != nil { record.lastChange = result.at }
            var closing: [any Channel] = []
            if transition == .becameUnhealthy {
                closing = Array(record.proxied.values)
                record.proxied = [:]
            }
            inner.records[backend] = record
            return (transition, closing)
        }
    }

    func overrideWeight(for name: NodeName) -> Double? { overrides[name] }

    /// Runs `body` on the backend records under the lock.
    func withRecords<T>(_ body: (inout [NodeName: BackendRecord]) -> T) -> T {
        inner.withLock { body(&$0.records) }
    }

    /// A copy of every backend record and the gateway's counters, for `/stats`.
    func inspect() -> (records: [BackendRecord], accepted: UInt64, rejected: [String: UInt64]) {
        inner.withLock { inner in
            (inner.records.values.sorted { $0.backend.name < $1.backend.name }, inner.accepted, inner.rejected)
        }
    }

    /// Every proxied client connection (for shutdown).
    func allConnections() -> [any Channel] {
        inner.withLock { $0.records.values.flatMap(\.proxied.values) }
    }
}
