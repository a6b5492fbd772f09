/// The outcome of the `conn` scenario.
struct ConnReport {
    let requested: Int
    let connected: Int
    let failed: Int
    /// Connections the broker closed while they were held.
    let dropped: Int
    let openSeconds: Double
    /// Time from starting a connection to its CONNACK.
    let latency: LatencyHistogram
    let errors: [String: Int]
    /// The broker's VmRSS before connecting, after connecting and settling, and at the end of the hold.
    let rssBefore: UInt64?
    let rssAfter: UInt64?
    let rssEnd: UInt64?
    let version: ProtocolVersionArgument

    var connectRate: Double { openSeconds > 0 ? Double(connected) / openSeconds : 0 }

    /// Broker memory per connection (after settling, minus before), in bytes.
    var rssPerConnection: Double? {
        guard let rssBefore, let rssAfter, connected > 0 else { return nil }
        return (Double(rssAfter) - Double(rssBefore)) / Double(connected)
    }

    private func milliseconds(_ percentile: Double) -> Double {
        Double(latency.value(atPercentile: percentile)) / 1e6
    }

    func print(json: Bool) {
        if !json {
            Output.line(
                "connected \(connected) of \(requested) in \(JSONLine.format(openSeconds, decimals: 2)) s "
                    + "(\(JSONLine.format(connectRate, decimals: 0))/s); failed \(failed), dropped while held \(dropped)")
            Output.line(
                "connect latency p50 \(JSONLine.format(milliseconds(50), decimals: 2)) ms, "
                    + "p99 \(JSONLine.format(milliseconds(99), decimals: 2)) ms, "
                    + "max \(JSONLine.format(Double(latency.max) / 1e6, decimals: 2)) ms")
            for (error, count) in errors.sorted(by: { $0.value > $1.value }).prefix(5) {
                Output.line("  \(count) x \(error)")
            }
            if let rssBefore, let rssAfter {
                Output.line(
                    "broker RSS \(rssBefore / 1024) KiB before, \(rssAfter / 1024) KiB connected"
                        + (rssEnd.map { ", \($0 / 1024) KiB at the end" } ?? "")
                        + (rssPerConnection.map { "; \(JSONLine.format($0, decimals: 0)) B per connection" } ?? ""))
            }
        }
        var line = JSONLine()
        line.add("scenario", "conn")
        line.add("version", version.rawValue)
        line.add("connections", requested)
        line.add("connected", connected)
        line.add("failed", failed)
        line.add("dropped", dropped)
        line.add("connect_seconds", openSeconds, decimals: 3)
        line.add("connect_rate", connectRate, decimals: 0)
        line.add("connect_p50_ms", milliseconds(50), decimals: 3)
        line.add("connect_p99_ms", milliseconds(99), decimals: 3)
        if let rssBefore { line.add("rss_before_bytes", rssBefore) }
        if let rssAfter { line.add("rss_after_bytes", rssAfter) }
        if let rssEnd { line.add("rss_end_bytes", rssEnd) }
        if let rssPerConnection { line.add("rss_per_conn_bytes", rssPerConnection, decimals: 0) }
        Output.line("RESULT " + line.text)
    }
}
