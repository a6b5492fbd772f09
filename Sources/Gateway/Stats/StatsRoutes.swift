/// The gateway's own HTTP pages: `/stats` (HTML, or JSON with `?format=json`; `?client=X` adds "where does client
/// X go"), `/stats/` (the same) and `/stats/prometheus`. Every other path is proxied to a node.
///
/// Pure: the request line in, a `LocalResponse` out. The snapshot and the affinity report come from closures so
/// that nothing is computed for a path that is not ours, and the affinity only when asked for.
enum StatsRoutes {
    enum Format: Equatable {
        case html
        case json
    }

    /// What a request to one of our paths asks for.
    enum Request: Equatable {
        case page(format: Format, client: String?)
        case prometheus
    }

    static let htmlContentType = "text/html; charset=utf-8"
    static let jsonContentType = "application/json"
    static let prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"
    static let textContentType = "text/plain; charset=utf-8"
    /// Seconds between reloads of the HTML page.
    static let refreshSeconds = 5

    /// The response for `method` and `uri` (path and query, as sent), or nil when the path is not ours.
    ///
    /// GET answers; HEAD answers the same with an empty body (the HTTP layer must then not add a body of its own);
    /// any other method gets 405. A query that does not decode (bad `%` escape, not UTF-8) or an unknown `format`
    /// gets 400. `/stats/prometheus` ignores its query, so a client ID can never reach a metric.
    static func response(
        method: String, uri: String, snapshot: () -> GatewayStatsSnapshot, affinity: (String) -> AffinityReport
    ) -> LocalResponse? {
        let (path, query) = split(uri)
        guard path == "/stats" || path == "/stats/" || path == "/stats/prometheus" else { return nil }
        guard method == "GET" || method == "HEAD" else {
            return LocalResponse(
                status: 405, contentType: textContentType, body: "method not allowed: use GET or HEAD\n",
                headers: [.init(name: "Allow", value: "GET, HEAD")])
        }
        var response: LocalResponse
        switch request(path: path, query: query) {
        case .success(.prometheus):
            response = LocalResponse(
                status: 200, contentType: prometheusContentType, body: StatsPrometheusRenderer.render(snapshot()),
                headers: [noStore])
        case .success(.page(.json, let client)):
            response = LocalResponse(
                status: 200, contentType: jsonContentType,
                body: StatsJSONRenderer.render(snapshot(), affinity: client.map(affinity)), headers: [noStore])
        case .success(.page(.html, let client)):
            response = LocalResponse(
                status: 200, contentType: htmlContentType,
                body: StatsHTMLRenderer.render(snapshot(), affinity: client.map(affinity)),
                headers: [.init(name: "Refresh", value: "\(refreshSeconds)"), noStore])
        case .failure(let problem):
            response = LocalResponse(status: 400, contentType: textContentType, body: "bad request: \(problem)\n")
        }
        if method == "HEAD" { response.body = "" }
        return response
    }

    private static let noStore = LocalResponse.Header(name: "Cache-Control", value: "no-store")

    /// What is wrong with a query; a fixed phrase, never the query itself.
    struct BadQuery: Error, Equatable, CustomStringConvertible {
        var description: String
    }

    /// The request for one of our paths and its raw query.
    static func request(path: String, query: Substring?) -> Result<Request, BadQuery> {
        if path == "/stats/prometheus" { return .success(.prometheus) }
        var items: [QueryItem] = []
        if let query {
            guard let decoded = queryItems(query) else {
                return .failure(BadQuery(description: "the query string does not decode"))
            }
            items = decoded
        }
        var format = Format.html
        switch items.first(where: { $0.name == "format" })?.value {
        case nil, "html"?: format = .html
        case "json"?: format = .json
        default: return .failure(BadQuery(description: "format must be html or json"))
        }
        return .success(.page(format: format, client: items.first(where: { $0.name == "client" })?.value))
    }

    /// Splits a request target at the first `?` (a `#` fragment, which clients should not send, is dropped).
    static func split(_ uri: String) -> (path: String, query: Substring?) {
        let target = uri.firstIndex(of: "#").map { uri[..<$0] } ?? Substring(uri)
        guard let mark = target.firstIndex(of: "?") else { return (String(target), nil) }
        return (String(target[..<mark]), target[target.index(after: mark)...])
    }
}
