/// An answer the gateway gives itself instead of proxying the request to a node (`/stats` and its forms).
struct LocalResponse: Sendable, Equatable {
    /// The HTTP status code.
    var status: Int
    /// The `Content-Type` header value.
    var contentType: String
    var body: String
    /// Extra response headers (for example `Refresh`), in order.
    var headers: [Header] = []

    struct Header: Sendable, Equatable {
        var name: String
        var value: String
    }
}

/// Decides whether the gateway answers a request itself: the request's method and URI (path and query, as sent)
/// in, a response out, or nil to proxy the request to a node.
typealias LocalRoutes = @Sendable (_ method: String, _ uri: String) -> LocalResponse?
