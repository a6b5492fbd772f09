import ClusterTransport
import Testing

@testable import Gateway

/// Which requests the gateway answers itself, with what, and which it leaves to the nodes.
@Suite("stats routes")
struct StatsRoutesTests {
    /// Calls `StatsRoutes.response`, counting the closures' calls and recording the client asked about.
    final class Probe {
        var snapshots = 0
        var asked: [String] = []

        func response(_ method: String, _ uri: String) -> LocalResponse? {
            StatsRoutes.response(
                method: method, uri: uri,
                snapshot: {
                    snapshots += 1
                    return StatsFixtures.snapshot
                },
                affinity: { client in
                    asked.append(client)
                    return AffinityReport.make(
                        clientID: client, backends: StatsFixtures.weighted,
                        healthy: Set(StatsFixtures.weighted.map(\.name)), connections: [:])
                })
        }
    }

    struct Row: Sendable, CustomTestStringConvertible {
        var method: String
        var uri: String
        /// nil: not ours (proxied).
        var status: Int?
        var contentType: String? = nil
        /// The client ID the affinity closure must be asked about, if any.
        var asked: String? = nil
        var testDescription: String { "\(method) \(uri)" }
    }

    static let html = StatsRoutes.htmlContentType
    static let json = StatsRoutes.jsonContentType
    static let prometheus = StatsRoutes.prometheusContentType
    static let text = StatsRoutes.textContentType

    static let table: [Row] = [
        Row(method: "GET", uri: "/stats", status: 200, contentType: html),
        Row(method: "GET", uri: "/stats/", status: 200, contentType: html),
        Row(method: "HEAD", uri: "/stats", status: 200, contentType: html),
        Row(method: "GET", uri: "/stats?format=json", status: 200, contentType: json),
        Row(method: "GET", uri: "/stats/?format=html", status: 200, contentType: html),
        Row(method: "GET", uri: "/stats?client=sensor-1", status: 200, contentType: html, asked: "sensor-1"),
        Row(method: "GET", uri: "/stats?client=a%2Bb+c%26d%3D%F0%9F%90%A6", status: 200, contentType: html,
            asked: "a+b c&d=🐦"),
        Row(method: "GET", uri: "/stats?format=json&client=x%2Fy", status: 200, contentType: json, asked: "x/y"),
        Row(method: "GET", uri: "/stats?client=", status: 200, contentType: html, asked: ""),
        Row(method: "GET", uri: "/stats?client=first&client=second", status: 200, contentType: html, asked: "first"),
        Row(method: "GET", uri: "/stats/prometheus", status: 200, contentType: prometheus),
        Row(method: "GET", uri: "/stats/prometheus?client=secret", status: 200, contentType: prometheus),
        Row(method: "HEAD", uri: "/stats/prometheus", status: 200, contentType: prometheus),
        Row(method: "POST", uri: "/stats", status: 405, contentType: text),
        Row(method: "DELETE", uri: "/stats/prometheus", status: 405, contentType: text),
        Row(method: "get", uri: "/stats", status: 405, contentType: text),
        Row(method: "GET", uri: "/stats?format=xml", status: 400, contentType: text),
        Row(method: "GET", uri: "/stats?client=%ZZ", status: 400, contentType: text),
        Row(method: "GET", uri: "/stats?client=%FF", status: 400, contentType: text),
        Row(method: "GET", uri: "/stats?client=%4", status: 400, contentType: text),
        Row(method: "GET", uri: "/", status: nil),
        Row(method: "GET", uri: "/mqtt", status: nil),
        Row(method: "GET", uri: "/statistics", status: nil),
        Row(method: "GET", uri: "/stats/other", status: nil),
        Row(method: "GET", uri: "/stats//", status: nil),
        Row(method: "POST", uri: "/api/v1/publish", status: nil),
        Row(method: "GET", uri: "/Stats", status: nil),
    ]

    @Test("routes", arguments: table)
    func route(_ row: Row) {
        let probe = Probe()
        let response = probe.response(row.method, row.uri)
        #expect(response?.status == row.status)
        #expect(response?.contentType == row.contentType)
        #expect(probe.asked == (row.asked.map { [$0] } ?? []))
        // The snapshot is taken only to answer with it.
        #expect(probe.snapshots == (row.status == 200 ? 1 : 0))
        if row.status == 405 {
            #expect(response?.headers == [LocalResponse.Header(name: "Allow", value: "GET, HEAD")])
        }
        if row.status == 400 {
            // The complaint never echoes the query.
            #expect(response.map { !$0.body.contains("%") && !$0.body.contains("xml") } ?? false)
        }
    }

    @Test("HEAD has GET's status and headers, and no body")
    func head() throws {
        for uri in ["/stats", "/stats?format=json", "/stats/prometheus"] {
            let get = try #require(Probe().response("GET", uri))
            let head = try #require(Probe().response("HEAD", uri))
            #expect(!get.body.isEmpty)
            #expect(head.body.isEmpty)
            #expect(head.status == get.status && head.contentType == get.contentType && head.headers == get.headers)
        }
    }

    @Test("the HTML page refreshes every 5 s; nothing is cached")
    func headers() throws {
        let page = try #require(Probe().response("GET", "/stats"))
        #expect(page.headers.contains(LocalResponse.Header(name: "Refresh", value: "5")))
        #expect(page.headers.contains(LocalResponse.Header(name: "Cache-Control", value: "no-store")))
        let json = try #require(Probe().response("GET", "/stats?format=json"))
        #expect(!json.headers.contains { $0.name == "Refresh" })
    }

    @Test("a client ID never reaches the Prometheus output")
    func noClientInPrometheus() throws {
        let probe = Probe()
        let response = try #require(probe.response("GET", "/stats/prometheus?client=secret-client-42"))
        #expect(!response.body.contains("secret-client-42"))
        #expect(probe.asked.isEmpty)
    }

    @Test("form decoding: + is a space, %XX a byte, bad escapes and non-UTF-8 refused")
    func formDecoding() {
        #expect(StatsRoutes.formDecode("a+b%20c") == "a b c")
        #expect(StatsRoutes.formDecode("%2b%2B") == "++")
        #expect(StatsRoutes.formDecode("%C3%BC") == "ü")
        #expect(StatsRoutes.formDecode("%") == nil)
        #expect(StatsRoutes.formDecode("%G0") == nil)
        #expect(StatsRoutes.formDecode("%C3") == nil)
        #expect(StatsRoutes.queryItems("a=1&&b&c=") == [.init(name: "a", value: "1"), .init(name: "b", value: ""),
                                                        .init(name: "c", value: "")])
        #expect(StatsRoutes.split("/stats?x=1#frag") == ("/stats", "x=1"))
        #expect(StatsRoutes.split("/stats").query == nil)
    }
}
