import NIOHTTP1

/// How a proxied request and its response are rewritten between the client and the node (RFC 9110 section 7.6):
/// pure functions of the heads.
///
/// Hop-by-hop headers (`Connection`, the headers it names, `Keep-Alive`, `Proxy-Connection`, `TE`, `Trailer`,
/// `Upgrade`) describe one connection and are not forwarded; the gateway manages each side's persistence itself.
/// `Transfer-Encoding` and `Content-Length` are kept: NIO's encoders frame the body from them.
enum ProxyHeaders {
    static let hopByHop: Set<String> = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"]

    /// The request to send to the node: HTTP/1.1 (the upstream connection is kept alive), hop-by-hop headers
    /// dropped, `clientIP` appended to `X-Forwarded-For`, and `X-Forwarded-Proto: http`. Host and the rest unchanged.
    static func upstreamRequest(_ head: HTTPRequestHead, clientIP: String?) -> HTTPRequestHead {
        var headers = withoutHopByHop(head.headers)
        if let clientIP {
            let earlier = headers["x-forwarded-for"]
            headers.remove(name: "X-Forwarded-For")
            headers.add(name: "X-Forwarded-For", value: (earlier + [clientIP]).joined(separator: ", "))
        }
        headers.replaceOrAdd(name: "X-Forwarded-Proto", value: "http")
        return HTTPRequestHead(version: .http1_1, method: head.method, uri: head.uri, headers: headers)
    }

    /// The response to send to the client, and whether the client connection stays open after it: in the client's
    /// HTTP version, hop-by-hop headers dropped, and `Connection: close` when the gateway closes after it (or
    /// `keep-alive` for an HTTP/1.0 client it keeps). An HTTP/1.0 client cannot take a chunked body, so a response
    /// with a body and no `Content-Length` is delimited by closing the connection.
    static func downstreamResponse(
        _ head: HTTPResponseHead, requestVersion: HTTPVersion, requestMethod: HTTPMethod, keepAlive: Bool
    ) -> (HTTPResponseHead, keepAlive: Bool) {
        var headers = withoutHopByHop(head.headers)
        let isHTTP10 = requestVersion.major == 1 && requestVersion.minor == 0
        let hasBody = head.status.mayHaveResponseBody && requestMethod != .HEAD
        let keepAlive = keepAlive && !(isHTTP10 && hasBody && !headers.contains(name: "content-length"))
        if isHTTP10 { headers.remove(name: "transfer-encoding") }
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if isHTTP10 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        return (HTTPResponseHead(version: requestVersion, status: head.status, headers: headers), keepAlive)
    }

    /// `headers` without the hop-by-hop ones.
    static func withoutHopByHop(_ headers: HTTPHeaders) -> HTTPHeaders {
        let named = Set(headers[canonicalForm: "connection"].map { $0.lowercased() })
        var kept = HTTPHeaders()
        for (name, value) in headers {
            let lower = name.lowercased()
            if hopByHop.contains(lower) || named.contains(lower) { continue }
            kept.add(name: name, value: value)
        }
        return kept
    }

    /// The client's address as it goes in `X-Forwarded-For`: an IPv4 address for a client that reached an IPv6
    /// socket through an IPv4-mapped address (`::ffff:a.b.c.d`).
    static func clientIP(_ address: String?) -> String? {
        guard let address else { return nil }
        let prefix = "::ffff:"
        if address.lowercased().hasPrefix(prefix), address.dropFirst(prefix.count).contains(".") {
            return String(address.dropFirst(prefix.count))
        }
        return address
    }
}
