import ClusterTransport
import Foundation
import Testing

@testable import Gateway

/// The HTML and JSON renderings of a snapshot.
@Suite("stats rendering")
struct StatsRenderingTests {
    static let snapshot = StatsFixtures.snapshot

    static func report(_ clientID: String) -> AffinityReport {
        AffinityReport.make(
            clientID: clientID, backends: StatsFixtures.weighted,
            healthy: Set(StatsFixtures.weighted.dropFirst().map(\.name)), connections: [:])
    }

    /// The keys of `render`'s output.
    struct Document: Decodable {
        var affinity: AffinityReport?
    }

    @Test("JSON round-trips the snapshot, with and without an affinity report")
    func jsonRoundTrip() throws {
        let decoder = StatsJSONRenderer.makeDecoder()
        let plain = StatsJSONRenderer.render(Self.snapshot)
        #expect(try decoder.decode(GatewayStatsSnapshot.self, from: Data(plain.utf8)) == Self.snapshot)
        #expect(try decoder.decode(Document.self, from: Data(plain.utf8)).affinity == nil)

        let report = Self.report(StatsFixtures.hostileClientID)
        let withAffinity = StatsJSONRenderer.render(Self.snapshot, affinity: report)
        #expect(try decoder.decode(GatewayStatsSnapshot.self, from: Data(withAffinity.utf8)) == Self.snapshot)
        #expect(try decoder.decode(Document.self, from: Data(withAffinity.utf8)).affinity == report)
    }

    @Test("JSON: sorted keys, ISO-8601 dates, a missing optional left out")
    func jsonShape() throws {
        let text = StatsJSONRenderer.render(Self.snapshot)
        #expect(text.contains(#""startedAt" : "2027-01-15T08:00:00Z""#))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(Set(object.keys) == [
            "backends", "bytesIn", "bytesOut", "currentConnections", "generatedAt", "mode", "rejectedConnections",
            "startedAt", "totalConnections",
        ])
        // Sorted: each top-level key appears after the one before it.
        let positions = object.keys.sorted().map { text.range(of: "\n  \"\($0)\"")!.lowerBound }
        #expect(positions == positions.sorted())
        let rows = try #require(object["backends"] as? [[String: Any]])
        #expect(rows[2]["lastCheckSucceeded"] == nil && rows[2]["lastChangeAt"] == nil)
        #expect(rows[0]["weightSource"] as? String == "node")
    }

    @Test("a hostile client ID is escaped everywhere on the page")
    func htmlEscaping() {
        let hostile = StatsFixtures.hostileClientID
        let page = StatsHTMLRenderer.render(Self.snapshot, affinity: Self.report(hostile))
        #expect(!page.contains("<script>"))
        #expect(!page.contains("<img"))
        #expect(!page.contains("\"x\")"))
        #expect(!page.contains("\u{7}"))
        #expect(page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;&lt;img src=x onerror=alert(1)&gt;\u{FFFD}"))
        // The form keeps the ID, inside a quoted, escaped attribute.
        #expect(page.contains(#"name="client" placeholder="client ID" aria-label="client ID" value="&lt;script&gt;"#))
        #expect(page.components(separatedBy: "<script").count == 1)
    }

    @Test("the page shows the figures, state colours, weights and their source, checks and ages")
    func htmlContent() {
        let page = StatsHTMLRenderer.render(Self.snapshot)
        #expect(page.hasPrefix("<!DOCTYPE html>"))
        #expect(page.contains("<style>"))
        #expect(!page.contains("<link") && !page.contains("<script"))
        #expect(page.contains(#"<span class="badge state-up">up</span>"#))
        #expect(page.contains(#"<span class="badge state-down">down</span>"#))
        #expect(page.contains(#"<span class="badge state-draining">draining</span>"#))
        #expect(page.contains("5<br><span class=\"muted\">node</span>"))
        #expect(page.contains("42s ago"))
        #expect(page.contains("7s ago"))
        #expect(page.contains("<code>connection refused</code>"))
        #expect(page.contains("http: not yet"))
        #expect(page.contains("1.5 KiB") && page.contains("5.0 MiB"))
        #expect(page.contains("up 1h 2m"))
        #expect(page.contains("cluster mode"))
        #expect(page.contains("<td>bad-first-packet</td><td class=\"num\">3</td>"))
        #expect(page.contains(#"<form method="get" action="/stats">"#))
        #expect(!page.contains("class=\"answer\""))
    }

    @Test("with a client ID the page answers where it goes, chosen backend first")
    func htmlAffinity() throws {
        let report = Self.report("sensor-7")
        let page = StatsHTMLRenderer.render(Self.snapshot, affinity: report)
        let chosen = try #require(report.chosen)
        #expect(page.contains("Client <code>sensor-7</code> goes to <strong>\(chosen.rawValue)</strong>"))
        #expect(page.contains(report.reason))
        #expect(page.contains("<code>session/sensor-7</code>"))
        #expect(page.contains("<tr class=\"chosen\"><td class=\"num\">1</td><td>\(chosen.rawValue)</td>"))
    }

    @Test("formatting helpers", arguments: [
        (0, "0s"), (59, "59s"), (119, "119s"), (120, "2m 0s"), (3_725, "1h 2m"), (3_599, "59m 59s"), (7_199, "1h 59m"),
        (172_800, "2d 0h"), (-5, "0s"),
    ])
    func span(seconds: Int, expected: String) {
        #expect(StatsHTMLRenderer.span(seconds: seconds) == expected)
    }

    @Test("byte sizes")
    func byteSizes() {
        #expect(StatsHTMLRenderer.bytes(0) == "0 B")
        #expect(StatsHTMLRenderer.bytes(1_023) == "1023 B")
        #expect(StatsHTMLRenderer.bytes(1_536) == "1.5 KiB")
        #expect(StatsHTMLRenderer.bytes(50 * 1_048_576) == "50 MiB")
        #expect(StatsHTMLRenderer.bytes(.max) == "16 EiB")
        #expect(StatsHTMLRenderer.number(5) == "5" && StatsHTMLRenderer.number(2.5) == "2.5")
    }
}
