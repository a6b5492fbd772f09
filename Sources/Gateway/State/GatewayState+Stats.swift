import ClusterTransport
import Foundation

extension GatewayState {
    /// The figures for `/stats`, taken at one instant. `openConnections`: client connections open now, proxied or
    /// still sending their first packet (`ConnectionAdmission.open`).
    func statsSnapshot(openConnections: Int, at now: Date = Date()) -> GatewayStatsSnapshot {
        let (records, accepted, rejected) = inspect()
        let rows = records.map { record in
            GatewayStatsSnapshot.BackendRow(
                name: record.backend.name, host: record.backend.host, mqttPort: record.backend.mqttPort,
                wsPort: record.backend.wsPort, httpPort: record.backend.httpPort, weight: record.backend.weight,
                weightSource: record.weightSource, state: Self.stateWord(record),
                membership: record.membership.map { "\($0)" }, checkKind: record.backend.httpPort > 0 ? .http : .tcp,
                lastCheckSucceeded: record.lastCheck?.success, lastCheckDetail: record.lastCheck?.detail ?? "",
                lastCheckAt: record.lastCheck?.at, lastChangeAt: record.lastChange,
                currentConnections: record.proxied.count, totalConnections: record.totalConnections,
                bytesIn: record.traffic.fromClients.load(ordering: .relaxed),
                bytesOut: record.traffic.toClients.load(ordering: .relaxed))
        }
        return GatewayStatsSnapshot(
            mode: mode == .cluster ? .cluster : .static, startedAt: startedAt, generatedAt: now,
            currentConnections: openConnections, totalConnections: accepted, rejectedConnections: rejected,
            bytesIn: rows.reduce(0) { $0 + $1.bytesIn }, bytesOut: rows.reduce(0) { $0 + $1.bytesOut }, backends: rows)
    }

    /// "Where does `clientID` go, and why", from exactly what `candidates(for:)` decides on.
    func affinity(for clientID: String) -> AffinityReport {
        let records = inspect().records.filter(\.isRoutable)
        return AffinityReport.make(
            clientID: clientID, backends: records.map(\.backend),
            healthy: Set(records.filter(\.isEligible).map(\.backend.name)),
            connections: Dictionary(uniqueKeysWithValues: records.map { ($0.backend.name, $0.proxied.count) }))
    }

    /// A backend's state in one word: `up` (gets new clients), `joining` or `leaving` (membership), `down`
    /// (membership), or `failing` (its health checks).
    static func stateWord(_ record: BackendRecord) -> String {
        switch record.membership {
        case .down?, .removed?: return "down"
        case .leaving?: return "leaving"
        case .joining?: return "joining"
        default: return record.isEligible ? "up" : "failing"
        }
    }
}
