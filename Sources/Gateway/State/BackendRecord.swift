import ClusterTransport
import Foundation
import NIOCore

/// Where a backend's weight comes from.
enum WeightSource: String, Sendable, Codable {
    /// The node's own `--weight`, learned from its member record.
    case node
    /// The gateway's `--weight NAME=W`.
    case override
    /// The gateway's `--backend …:WEIGHT`.
    case `static`
}

/// The outcome of one active health check.
struct CheckResult: Sendable, Equatable {
    var success: Bool
    /// What was seen: an HTTP status code, "connected", or the error.
    var detail: String
    var at: Date
}

/// Everything the gateway knows about one backend: its address and weight, its health, its membership status (in
/// cluster mode) and the client connections proxied to it.
struct BackendRecord {
    var backend: Backend
    var weightSource: WeightSource
    /// The member's status; nil for a static backend.
    var membership: MemberStatus?
    var health: HealthStateMachine
    var lastCheck: CheckResult?
    /// When the backend last became eligible or ineligible for new clients.
    var lastChange: Date?
    /// Client channels proxied to it, by registration number.
    var proxied: [Int: any Channel] = [:]
    var totalConnections: UInt64 = 0
    let traffic = TrafficCounter()

    init(backend: Backend, weightSource: WeightSource, membership: MemberStatus?, rise: Int, fall: Int) {
        self.backend = backend
        self.weightSource = weightSource
        self.membership = membership
        health = HealthStateMachine(rise: rise, fall: fall)
    }

    /// Whether new clients may be sent here: healthy by its checks and, in cluster mode, up in the membership.
    var isEligible: Bool { health.isHealthy && isRoutable && membership != .joining }

    /// Whether it can be tried at all (when nothing is eligible, every routable backend is tried): not down,
    /// removed or leaving.
    var isRoutable: Bool { backend.weight > 0 && (membership == nil || membership == .up || membership == .joining) }
}
