import Foundation
import Prometheus

/// `/stats/prometheus`: the snapshot in the Prometheus text format, through a fresh `PrometheusCollectorRegistry`
/// per scrape (the gateway's counters live in `GatewayState`; the registry only formats them).
///
/// Every metric is named `starling_gateway_*`. The backend's name is the only label of the per-backend metrics;
/// the rejection counter has a `reason` label, a fixed word from the gateway's code. No client ID ever reaches a
/// label or a value.
enum StatsPrometheusRenderer {
    /// Rejection reasons always exported (0 until they happen), so their series exist from the first scrape.
    static let knownRejectReasons = [
        "bad-first-packet", "connect-timeout", "too-large", "rate-limited", "max-connections", "no-backend",
    ]

    static func render(_ snapshot: GatewayStatsSnapshot) -> String {
        let registry = PrometheusCollectorRegistry()
        gauge(registry, "starling_gateway_start_time_seconds", "When the gateway started, in seconds since the epoch.")
            .set(snapshot.startedAt.timeIntervalSince1970)
        gauge(registry, "starling_gateway_cluster_mode", "1 when backends come from the cluster, 0 when static.")
            .set(snapshot.mode == .cluster ? 1.0 : 0.0)
        gauge(registry, "starling_gateway_connections", "Client connections open now.")
            .set(Double(snapshot.currentConnections))
        counter(registry, "starling_gateway_connections_total", "Client connections accepted.", snapshot.totalConnections)
        counter(registry, "starling_gateway_bytes_in_total", "Bytes received from clients.", snapshot.bytesIn)
        counter(registry, "starling_gateway_bytes_out_total", "Bytes sent to clients.", snapshot.bytesOut)
        var rejected = Dictionary(uniqueKeysWithValues: knownRejectReasons.map { ($0, UInt64(0)) })
        rejected.merge(snapshot.rejectedConnections) { $1 }
        for (reason, count) in rejected.sorted(by: { $0.key < $1.key }) {
            counter(
                registry, "starling_gateway_rejected_connections_total",
                "Client connections refused or dropped before being proxied, by reason.", count,
                labels: [("reason", reason)])
        }
        for backend in snapshot.backends { renderBackend(backend, into: registry) }
        return registry.emitToString()
    }

    private static func renderBackend(_ row: GatewayStatsSnapshot.BackendRow, into registry: PrometheusCollectorRegistry) {
        let labels = [("backend", row.name.rawValue)]
        gauge(registry, "starling_gateway_backend_up", "1 when the backend's state is up, else 0.", labels)
            .set(row.state == "up" ? 1.0 : 0.0)
        gauge(registry, "starling_gateway_backend_weight", "The backend's rendezvous-hashing weight.", labels)
            .set(row.weight)
        gauge(registry, "starling_gateway_backend_connections", "Client connections proxied to the backend now.", labels)
            .set(Double(row.currentConnections))
        counter(
            registry, "starling_gateway_backend_connections_total", "Client connections proxied to the backend.",
            row.totalConnections, labels: labels)
        counter(
            registry, "starling_gateway_backend_bytes_in_total", "Bytes received from clients proxied to the backend.",
            row.bytesIn, labels: labels)
        counter(
            registry, "starling_gateway_backend_bytes_out_total", "Bytes sent to clients proxied to the backend.",
            row.bytesOut, labels: labels)
        if let succeeded = row.lastCheckSucceeded {
            gauge(registry, "starling_gateway_backend_check_success", "1 when the last health check passed.", labels)
                .set(succeeded ? 1.0 : 0.0)
        }
        if let at = row.lastCheckAt {
            gauge(
                registry, "starling_gateway_backend_last_check_timestamp_seconds",
                "When the backend was last checked, in seconds since the epoch.", labels
            ).set(at.timeIntervalSince1970)
        }
        if let at = row.lastChangeAt {
            gauge(
                registry, "starling_gateway_backend_last_change_timestamp_seconds",
                "When the backend's state last changed, in seconds since the epoch.", labels
            ).set(at.timeIntervalSince1970)
        }
    }

    private static func gauge(
        _ registry: PrometheusCollectorRegistry, _ name: String, _ help: String, _ labels: [(String, String)] = []
    ) -> Gauge {
        registry.makeGauge(descriptor: descriptor(name, help), labels: labels)
    }

    private static func counter(
        _ registry: PrometheusCollectorRegistry, _ name: String, _ help: String, _ value: UInt64,
        labels: [(String, String)] = []
    ) {
        // Counter takes Int64; a total past 2^63 is not going to happen, but clamp rather than trap.
        registry.makeCounter(descriptor: descriptor(name, help), labels: labels).increment(by: Int64(clamping: value))
    }

    /// The whole name as given (the `_total` of counters included), and its HELP text.
    private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}
