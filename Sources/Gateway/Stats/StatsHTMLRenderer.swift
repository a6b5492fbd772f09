import Foundation

/// `/stats`: the snapshot as one self-contained HTML page (inline CSS, no script), in the manner of HAProxy's
/// stats page: the gateway's figures, the backends table, the rejections, and a form asking where a client goes.
///
/// Pure. Everything that is not a literal of this file is escaped (`escape`), client IDs above all: they may hold
/// anything. The page reloads itself every `StatsRoutes.refreshSeconds` (the route sets `Refresh`).
enum StatsHTMLRenderer {
    static func render(_ snapshot: GatewayStatsSnapshot, affinity: AffinityReport? = nil) -> String {
        var html = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Starling gateway</title>
            <style>
            \(styleSheet)
            </style>
            </head>
            <body>

            """
        html += header(snapshot)
        html += backendsTable(snapshot)
        html += rejections(snapshot)
        html += affinitySection(affinity)
        html += """
            <footer>Reloads every \(StatsRoutes.refreshSeconds)s. Also as <a href="/stats?format=json">JSON</a> \
            and <a href="/stats/prometheus">Prometheus</a>.</footer>
            </body>
            </html>

            """
        return html
    }

    static func header(_ snapshot: GatewayStatsSnapshot) -> String {
        let now = snapshot.generatedAt
        let uptime = span(seconds: Int(now.timeIntervalSince(snapshot.startedAt).rounded(.down)))
        let up = snapshot.backends.filter { $0.state == "up" }.count
        let rejected = snapshot.rejectedConnections.values.reduce(UInt64(0)) { $0 &+ $1 }
        let cards = [
            ("Connections now", String(snapshot.currentConnections), nil),
            ("Connections total", String(snapshot.totalConnections), nil),
            ("Rejected", String(rejected), nil),
            ("Bytes in", bytes(snapshot.bytesIn), String(snapshot.bytesIn)),
            ("Bytes out", bytes(snapshot.bytesOut), String(snapshot.bytesOut)),
            ("Backends up", "\(up) / \(snapshot.backends.count)", nil),
        ]
        var html = """
            <header>
            <h1>Starling gateway</h1>
            <div class="meta">\(escape(snapshot.mode.rawValue)) mode · up \(uptime) (since \
            \(escape(timestamp(snapshot.startedAt)))) · generated \(escape(timestamp(now)))</div>
            </header>
            <section class="cards">

            """
        for (label, value, exact) in cards {
            let title = exact.map { " title=\"\(escape($0)) bytes\"" } ?? ""
            html += """
                <div class="card"><div class="label">\(escape(label))</div>\
                <div class="value"\(title)>\(escape(value))</div></div>

                """
        }
        return html + "</section>\n"
    }

    static func backendsTable(_ snapshot: GatewayStatsSnapshot) -> String {
        let now = snapshot.generatedAt
        var html = """
            <h2>Backends</h2>
            <table>
            <thead><tr><th>Backend</th><th>State</th><th>Membership</th><th class="num">Weight</th>\
            <th class="num">Conns now</th><th class="num">Conns total</th><th class="num">Bytes in</th>\
            <th class="num">Bytes out</th><th>Last check</th><th>Last change</th></tr></thead>
            <tbody>

            """
        if snapshot.backends.isEmpty {
            html += "<tr><td colspan=\"10\" class=\"muted\">No backends.</td></tr>\n"
        }
        for row in snapshot.backends {
            let ports = "mqtt \(row.mqttPort)" + (row.wsPort > 0 ? " · ws \(row.wsPort)" : "")
                + (row.httpPort > 0 ? " · http \(row.httpPort)" : "")
            html += """
                <tr><td><strong>\(escape(row.name.rawValue))</strong><br>\
                <span class="muted">\(escape(row.host)) · \(escape(ports))</span></td>\
                <td>\(stateBadge(row.state))</td>\
                <td>\(row.membership.map(escape) ?? "<span class=\"muted\">n/a</span>")</td>\
                <td class="num">\(escape(number(row.weight)))<br><span class="muted">\(escape(row.weightSource.rawValue))</span></td>\
                <td class="num">\(row.currentConnections)</td><td class="num">\(row.totalConnections)</td>\
                <td class="num" title="\(row.bytesIn) bytes">\(escape(bytes(row.bytesIn)))</td>\
                <td class="num" title="\(row.bytesOut) bytes">\(escape(bytes(row.bytesOut)))</td>\
                <td>\(checkCell(row, now: now))</td>\
                <td>\(dated(row.lastChangeAt, now: now))</td></tr>

                """
        }
        return html + "</tbody>\n</table>\n"
    }

    /// The state as a coloured badge: up green, down red, draining amber, anything else grey.
    static func stateBadge(_ state: String) -> String {
        let known = ["up", "down", "draining"]
        let style = known.contains(state) ? "state-\(state)" : "state-other"
        return "<span class=\"badge \(style)\">\(escape(state))</span>"
    }

    static func checkCell(_ row: GatewayStatsSnapshot.BackendRow, now: Date) -> String {
        let kind = escape(row.checkKind.rawValue)
        guard let succeeded = row.lastCheckSucceeded else { return "<span class=\"muted\">\(kind): not yet</span>" }
        let mark = succeeded ? "<span class=\"ok\">✔ ok</span>" : "<span class=\"fail\">✘ failed</span>"
        let detail = row.lastCheckDetail.isEmpty ? "" : " <code>\(escape(row.lastCheckDetail))</code>"
        return "\(kind) \(mark)\(detail)<br>\(dated(row.lastCheckAt, now: now))"
    }

    /// "Ns ago", with the exact time as a tooltip.
    static func dated(_ date: Date?, now: Date) -> String {
        guard let date else { return "<span class=\"muted\">never</span>" }
        return "<span title=\"\(escape(timestamp(date)))\">\(escape(ago(date, now: now)))</span>"
    }

    static func rejections(_ snapshot: GatewayStatsSnapshot) -> String {
        guard !snapshot.rejectedConnections.isEmpty else { return "" }
        var html = """
            <h2>Rejected connections</h2>
            <table class="narrow">
            <thead><tr><th>Reason</th><th class="num">Connections</th></tr></thead>
            <tbody>

            """
        for (reason, count) in snapshot.rejectedConnections.sorted(by: { $0.key < $1.key }) {
            html += "<tr><td>\(escape(reason))</td><td class=\"num\">\(count)</td></tr>\n"
        }
        return html + "</tbody>\n</table>\n"
    }
}
