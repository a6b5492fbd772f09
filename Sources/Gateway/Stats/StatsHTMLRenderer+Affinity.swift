import Foundation

extension StatsHTMLRenderer {
    /// The "where does client X go?" form, and the answer when one was asked for.
    static func affinitySection(_ report: AffinityReport?) -> String {
        let value = report.map { " value=\"\(escape($0.clientID))\"" } ?? ""
        var html = """
            <h2>Where does a client go?</h2>
            <form method="get" action="/stats">
            <input type="text" name="client" placeholder="client ID" aria-label="client ID"\(value)>
            <button type="submit">Show</button>
            </form>

            """
        guard let report else { return html }
        let target = report.chosen.map { "<strong>\(escape($0.rawValue))</strong>" } ?? "<strong>nowhere</strong>"
        let shown = report.clientID.isEmpty ? "<span class=\"muted\">(empty)</span>" : "<code>\(escape(report.clientID))</code>"
        let fallbacks = report.order.dropFirst().map(\.rawValue).joined(separator: ", ")
        html += """
            <div class="answer">Client \(shown) goes to \(target): \(escape(report.reason)).<br>\
            <span class="muted">Routing key</span> <code>\(escape(report.key))</code>\
            <span class="muted">; if refused, then: \(fallbacks.isEmpty ? "none" : escape(fallbacks))</span></div>
            <table class="narrow">
            <thead><tr><th class="num">Try</th><th>Backend</th><th class="num">Weight</th><th>Healthy</th>\
            <th class="num">Conns now</th><th class="num">Score</th></tr></thead>
            <tbody>

            """
        let rank = Dictionary(uniqueKeysWithValues: report.order.enumerated().map { ($1, $0 + 1) })
        let rows = report.candidates.sorted { (rank[$0.name] ?? .max, $0.name) < (rank[$1.name] ?? .max, $1.name) }
        for candidate in rows {
            let chosen = candidate.name == report.chosen ? " class=\"chosen\"" : ""
            let score = candidate.score.map { String(format: "%.6g", $0) } ?? "n/a"
            let healthy = candidate.healthy ? "<span class=\"ok\">yes</span>" : "<span class=\"fail\">no</span>"
            html += """
                <tr\(chosen)><td class="num">\(rank[candidate.name].map(String.init) ?? "–")</td>\
                <td>\(escape(candidate.name.rawValue))</td><td class="num">\(escape(number(candidate.weight)))</td>\
                <td>\(healthy)</td><td class="num">\(candidate.connections)</td>\
                <td class="num">\(escape(score))</td></tr>

                """
        }
        return html + "</tbody>\n</table>\n"
    }
}
