import ClusterTransport
import Foundation

@testable import Gateway

/// Snapshots and backends for the stats tests.
enum StatsFixtures {
    static let started = Date(timeIntervalSince1970: 1_800_000_000)
    static let now = started.addingTimeInterval(3_725)  // 1h 2m 5s later

    static func row(
        _ name: String, state: String, weight: Double = 1, check: Bool? = true, detail: String = "200",
        changedSecondsAgo: Double? = 42
    ) -> GatewayStatsSnapshot.BackendRow {
        GatewayStatsSnapshot.BackendRow(
            name: NodeName(name)!, host: String(name.split(separator: "@").last!), mqttPort: 1883, wsPort: 8083, httpPort: 8080,
            weight: weight, weightSource: .node, state: state, membership: "alive", checkKind: .http,
            lastCheckSucceeded: check, lastCheckDetail: detail, lastCheckAt: now.addingTimeInterval(-1),
            lastChangeAt: changedSecondsAgo.map { now.addingTimeInterval(-$0) }, currentConnections: 12,
            totalConnections: 3_400, bytesIn: 1_536, bytesOut: 5_242_880)
    }

    static let snapshot = GatewayStatsSnapshot(
        mode: .cluster, startedAt: started, generatedAt: now, currentConnections: 30, totalConnections: 9_001,
        rejectedConnections: ["bad-first-packet": 3, "no-backend": 1], bytesIn: 123_456, bytesOut: 654_321,
        backends: [
            row("n1@10.0.0.1", state: "up", weight: 5),
            row("n2@10.0.0.2", state: "down", weight: 2, check: false, detail: "connection refused", changedSecondsAgo: 7),
            row("n3@10.0.0.3", state: "draining", weight: 3, check: nil, detail: "", changedSecondsAgo: nil),
        ])

    static func backend(_ name: String, weight: Double) -> Backend {
        Backend(name: NodeName(name)!, host: "127.0.0.1", mqttPort: 1883, wsPort: 0, httpPort: 0, weight: weight)
    }

    /// Three backends weighted 5, 2 and 3.
    static let weighted = [backend("n1@a", weight: 5), backend("n2@b", weight: 2), backend("n3@c", weight: 3)]

    /// A client ID a browser should never run: markup, quotes, an ampersand, a control character.
    static let hostileClientID = "<script>alert(\"x\")</script>&'<img src=x onerror=alert(1)>\u{7}"
}
