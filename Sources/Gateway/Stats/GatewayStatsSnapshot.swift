import ClusterTransport
import Foundation

/// What the gateway's stats pages show: the gateway's own figures and one row per backend, taken at one instant.
///
/// A plain value, filled from `GatewayState` by the caller; every renderer (`StatsHTMLRenderer`,
/// `StatsJSONRenderer`, `StatsPrometheusRenderer`) is a pure function of it. Bytes "in" are bytes received from
/// clients, bytes "out" bytes sent to clients.
struct GatewayStatsSnapshot: Sendable, Codable, Equatable {
    /// How the gateway learns its backends.
    enum Mode: String, Sendable, Codable, Equatable {
        /// From the cluster's membership (weights and status from the nodes).
        case cluster
        /// From `--backend` flags only.
        case `static`
    }

    var mode: Mode
    var startedAt: Date
    /// When this snapshot was taken; "N s ago" on the HTML page is measured from here.
    var generatedAt: Date
    /// Client connections open now (proxied or still sending their first packet).
    var currentConnections: Int
    /// Client connections accepted since start.
    var totalConnections: UInt64
    /// Connections refused or dropped before they were proxied, by reason (`bad-first-packet`, `connect-timeout`,
    /// `too-large`, `rate-limited`, `max-connections`, `no-backend`, ...). A reason is a fixed word from the
    /// gateway's code, never anything a client sent.
    var rejectedConnections: [String: UInt64]
    var bytesIn: UInt64
    var bytesOut: UInt64
    var backends: [BackendRow]

    /// One backend's row.
    struct BackendRow: Sendable, Codable, Equatable {
        /// How the backend's health is checked.
        enum CheckKind: String, Sendable, Codable, Equatable {
            case http
            case tcp
        }

        var name: NodeName
        var host: String
        var mqttPort: Int
        /// 0: none.
        var wsPort: Int
        /// 0: none.
        var httpPort: Int
        var weight: Double
        /// `node`, `override` or `static` (the gateway's `WeightSource`).
        var weightSource: WeightSource
        /// The gateway's view: `up`, `down`, `draining`, ... (`up` counts as available in Prometheus).
        var state: String
        /// The cluster membership's status for the node (`alive`, `suspect`, ...); nil in static mode.
        var membership: String?
        var checkKind: CheckKind
        /// The last health check's outcome; nil before the first.
        var lastCheckSucceeded: Bool?
        /// What the last check saw, for example `200` or `connection refused`; empty before the first.
        var lastCheckDetail: String
        var lastCheckAt: Date?
        /// When `state` last changed; nil if it never did.
        var lastChangeAt: Date?
        var currentConnections: Int
        var totalConnections: UInt64
        var bytesIn: UInt64
        var bytesOut: UInt64
    }
}
