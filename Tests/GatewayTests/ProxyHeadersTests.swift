import NIOHTTP1
import Testing

@testable import Gateway

/// Rewriting heads between the client and the node.
@Suite("proxy headers")
struct ProxyHeadersTests {
    @Test("the upstream request: X-Forwarded-For added or appended, X-Forwarded-Proto set, Host kept, hop-by-hop dropped")
    func upstreamRequest() {
        let head = HTTPRequestHead(
            version: .http1_0, method: .POST, uri: "/api/x?y=1",
            headers: HTTPHeaders([
                ("Host", "example:8080"), ("Connection", "keep-alive, X-Secret"), ("X-Secret", "1"),
                ("Keep-Alive", "timeout=5"), ("X-Forwarded-Proto", "https"), ("Content-Length", "3"),
                ("Accept", "text/plain"),
            ]))
        let relayed = ProxyHeaders.upstreamRequest(head, clientIP: "10.0.0.7")
        #expect(relayed.version == .http1_1)
        #expect(relayed.method == .POST)
        #expect(relayed.uri == "/api/x?y=1")
        #expect(relayed.headers["Host"] == ["example:8080"])
        #expect(relayed.headers["X-Forwarded-For"] == ["10.0.0.7"])
        #expect(relayed.headers["X-Forwarded-Proto"] == ["http"])
        #expect(relayed.headers["Content-Length"] == ["3"])
        #expect(relayed.headers["Accept"] == ["text/plain"])
        for dropped in ["Connection", "X-Secret", "Keep-Alive"] { #expect(!relayed.headers.contains(name: dropped)) }

        let behindProxy = HTTPRequestHead(
            version: .http1_1, method: .GET, uri: "/",
            headers: HTTPHeaders([("X-Forwarded-For", "1.2.3.4"), ("x-forwarded-for", "5.6.7.8")]))
        #expect(ProxyHeaders.upstreamRequest(behindProxy, clientIP: "9.9.9.9").headers["X-Forwarded-For"]
            == ["1.2.3.4, 5.6.7.8, 9.9.9.9"])
    }

    @Test("client addresses: IPv4-mapped IPv6 is shown as IPv4")
    func clientIP() {
        #expect(ProxyHeaders.clientIP("::ffff:127.0.0.1") == "127.0.0.1")
        #expect(ProxyHeaders.clientIP("127.0.0.1") == "127.0.0.1")
        #expect(ProxyHeaders.clientIP("::1") == "::1")
        #expect(ProxyHeaders.clientIP(nil) == nil)
    }

    @Test("the downstream response: client's version, hop-by-hop dropped, Connection set by the gateway's choice")
    func downstreamResponse() {
        let upstream = HTTPResponseHead(
            version: .http1_1, status: .ok,
            headers: HTTPHeaders([("Content-Length", "5"), ("Connection", "close"), ("X-A", "b")]))
        let (kept, keepAlive) = ProxyHeaders.downstreamResponse(
            upstream, requestVersion: .http1_1, requestMethod: .GET, keepAlive: true)
        #expect(keepAlive)
        #expect(kept.headers["Connection"].isEmpty, "the node's Connection: close concerns the node's connection only")
        #expect(kept.headers["X-A"] == ["b"])
        let (closing, stays) = ProxyHeaders.downstreamResponse(
            upstream, requestVersion: .http1_1, requestMethod: .GET, keepAlive: false)
        #expect(!stays)
        #expect(closing.headers["Connection"] == ["close"])
        let (old, oldStays) = ProxyHeaders.downstreamResponse(
            upstream, requestVersion: .http1_0, requestMethod: .GET, keepAlive: true)
        #expect(oldStays)
        #expect(old.version == .http1_0)
        #expect(old.headers["Connection"] == ["keep-alive"])
    }

    @Test("an HTTP/1.0 client and a body without Content-Length: delimited by closing")
    func http10WithoutLength() {
        let chunked = HTTPResponseHead(
            version: .http1_1, status: .ok, headers: HTTPHeaders([("Transfer-Encoding", "chunked")]))
        let (head, keepAlive) = ProxyHeaders.downstreamResponse(
            chunked, requestVersion: .http1_0, requestMethod: .GET, keepAlive: true)
        #expect(!keepAlive)
        #expect(!head.headers.contains(name: "Transfer-Encoding"))
        #expect(head.headers["Connection"] == ["close"])
        // No body to delimit: HEAD, or 204.
        #expect(ProxyHeaders.downstreamResponse(chunked, requestVersion: .http1_0, requestMethod: .HEAD, keepAlive: true).keepAlive)
        let noContent = HTTPResponseHead(version: .http1_1, status: .noContent)
        #expect(ProxyHeaders.downstreamResponse(noContent, requestVersion: .http1_0, requestMethod: .GET, keepAlive: true).keepAlive)
    }
}
