import NIOCore
import NIOHTTP1
import Testing

@testable import Gateway

/// The HTTP front's per-connection logic, without sockets.
@Suite("http front state machine")
struct HTTPFrontStateMachineTests {
    typealias Machine = HTTPFrontStateMachine

    static func head(_ uri: String = "/api", method: HTTPMethod = .GET, version: HTTPVersion = .http1_1,
                     _ headers: [(String, String)] = [("Host", "gw")]) -> HTTPRequestHead {
        HTTPRequestHead(version: version, method: method, uri: uri, headers: HTTPHeaders(headers))
    }

    static let ok = HTTPResponseHead(version: .http1_1, status: .ok, headers: HTTPHeaders([("Content-Length", "2")]))

    /// The head the machine forwards for `head` from 127.0.0.1.
    static func forwarded(_ head: HTTPRequestHead) -> HTTPClientRequestPart {
        .head(ProxyHeaders.upstreamRequest(head, clientIP: "127.0.0.1"))
    }

    static func relayedHead(_ action: Machine.Action) -> HTTPResponseHead? {
        if case .relay(.head(let head), _) = action { return head }
        return nil
    }

    @Test("two requests on one keep-alive connection: one upstream connection, made for the first, reused")
    func keepAliveReuse() {
        var machine = Machine()
        let first = Self.head("/one")
        #expect(machine.requestHead(first, route: .proxy, clientIP: "127.0.0.1") == .connectUpstream)
        #expect(!machine.readsDownstream, "no reading while connecting")
        #expect(machine.requestEnd() == .none)
        #expect(machine.upstreamConnected() == .forward([Self.forwarded(first), .end(nil)]))
        #expect(machine.readsDownstream)
        #expect(Self.relayedHead(machine.responseHead(Self.ok))?.status == .ok)
        #expect(machine.responseBody(ByteBuffer(string: "hi")) == .relay(.body(.byteBuffer(ByteBuffer(string: "hi"))), then: .nothing))
        #expect(machine.responseEnd() == .relay(.end(nil), then: .nothing))
        let second = Self.head("/two", method: .POST, [("Content-Length", "3")])
        #expect(machine.requestHead(second, route: .proxy, clientIP: "127.0.0.1") == .forward([Self.forwarded(second)]))
        #expect(machine.requestBody(ByteBuffer(string: "abc")) == .forward([.body(.byteBuffer(ByteBuffer(string: "abc")))]))
        #expect(machine.requestEnd() == .forward([.end(nil)]))
        _ = machine.responseHead(Self.ok)
        #expect(machine.responseEnd() == .relay(.end(nil), then: .nothing))
    }

    @Test("Connection: close from the client closes both after the response; from the node, only the upstream")
    func closing() {
        var machine = Machine()
        let head = Self.head("/x", [("Connection", "close")])
        _ = machine.requestHead(head, route: .proxy, clientIP: nil)
        _ = machine.requestEnd()
        _ = machine.upstreamConnected()
        let relayed = Self.relayedHead(machine.responseHead(Self.ok))
        #expect(relayed?.headers["Connection"] == ["close"])
        #expect(machine.responseEnd() == .relay(.end(nil), then: .closeBoth))

        var other = Machine()
        _ = other.requestHead(Self.head(), route: .proxy, clientIP: nil)
        _ = other.requestEnd()
        _ = other.upstreamConnected()
        var closingNode = Self.ok
        closingNode.headers.add(name: "Connection", value: "close")
        _ = other.responseHead(closingNode)
        #expect(other.responseEnd() == .relay(.end(nil), then: .closeUpstream))
        #expect(!other.hasUpstream)
        #expect(other.requestHead(Self.head(), route: .proxy, clientIP: nil) == .connectUpstream, "a new one next time")
    }

    @Test("the upstream closes between requests: a new connection for the next request")
    func upstreamClosedWhileIdle() {
        var machine = Machine()
        _ = machine.requestHead(Self.head(), route: .proxy, clientIP: nil)
        _ = machine.requestEnd()
        _ = machine.upstreamConnected()
        _ = machine.responseHead(Self.ok)
        _ = machine.responseEnd()
        #expect(machine.upstreamClosed() == .none)
        #expect(machine.requestHead(Self.head(), route: .proxy, clientIP: nil) == .connectUpstream)
    }

    @Test("connect failures: 502, or 503 with no node; answered once the request has ended; the connection stays")
    func connectFailures() {
        for status in [HTTPResponseStatus.badGateway, .serviceUnavailable] {
            var machine = Machine()
            _ = machine.requestHead(Self.head(method: .POST, [("Content-Length", "4")]), route: .proxy, clientIP: nil)
            #expect(machine.upstreamConnectFailed(status) == .none, "the body is still coming")
            #expect(machine.readsDownstream)
            #expect(machine.requestBody(ByteBuffer(string: "data")) == .none, "dropped")
            guard case .respond(let response, _, true) = machine.requestEnd() else {
                Issue.record("no keep-alive \(status) response")
                continue
            }
            #expect(response.status == Int(status.code))
        }
        var ended = Machine()
        _ = ended.requestHead(Self.head(), route: .proxy, clientIP: nil)
        _ = ended.requestEnd()
        guard case .respond(let response, _, _) = ended.upstreamConnectFailed(.badGateway) else {
            Issue.record("no 502")
            return
        }
        #expect(response.status == 502)
    }

    @Test("the upstream closes mid-exchange: 502 before the response began, the client closed after")
    func upstreamClosedMidExchange() {
        var before = Machine()
        _ = before.requestHead(Self.head(), route: .proxy, clientIP: nil)
        _ = before.requestEnd()
        _ = before.upstreamConnected()
        guard case .respond(let response, _, false) = before.upstreamClosed() else {
            Issue.record("no closing 502")
            return
        }
        #expect(response.status == 502)
        var during = Machine()
        _ = during.requestHead(Self.head(), route: .proxy, clientIP: nil)
        _ = during.requestEnd()
        _ = during.upstreamConnected()
        _ = during.responseHead(Self.ok)
        #expect(during.upstreamClosed() == .closeClient)
    }

    @Test("a response that ends before its request closes both")
    func earlyResponse() {
        var machine = Machine()
        _ = machine.requestHead(Self.head(method: .PUT, [("Content-Length", "100")]), route: .proxy, clientIP: nil)
        _ = machine.upstreamConnected()
        _ = machine.responseHead(HTTPResponseHead(version: .http1_1, status: .payloadTooLarge))
        #expect(machine.responseEnd() == .relay(.end(nil), then: .closeBoth))
    }

    @Test("local answers and refusals: sent at the request's end, keep-alive honoured, refusals close")
    func answers() {
        let local = LocalResponse(status: 200, contentType: "text/plain", body: "stats")
        var machine = Machine()
        #expect(machine.requestHead(Self.head("/stats"), route: .respond(local, close: false), clientIP: nil) == .none)
        #expect(machine.requestBody(ByteBuffer(string: "ignored")) == .none)
        #expect(machine.requestEnd() == .respond(local, version: .http1_1, keepAlive: true))
        #expect(!machine.hasUpstream)
        _ = machine.requestHead(Self.head("/stats", version: .http1_0), route: .respond(local, close: false), clientIP: nil)
        #expect(machine.requestEnd() == .respond(local, version: .http1_0, keepAlive: false), "HTTP/1.0 without keep-alive")
        var refusing = Machine()
        _ = refusing.requestHead(Self.head("/mqtt"), route: .respond(local, close: true), clientIP: nil)
        #expect(refusing.requestEnd() == .respond(local, version: .http1_1, keepAlive: false))
    }

    @Test("a WebSocket route upgrades at the request's end")
    func webSocket() {
        let accepted = WebSocketUpgrade.Accepted(accept: "a=", subprotocol: "mqtt")
        var machine = Machine()
        let head = Self.head("/mqtt", [("Upgrade", "websocket"), ("Connection", "Upgrade")])
        #expect(machine.requestHead(head, route: .webSocket(accepted), clientIP: nil) == .none)
        #expect(machine.requestEnd() == .upgrade(accepted, request: head))
    }

    @Test("the client half-closes: closed when idle, after the response otherwise; the client closes: upstream closed")
    func clientClosing() {
        var idle = Machine()
        #expect(idle.clientInputClosed() == .closeClient)
        var busy = Machine()
        _ = busy.requestHead(Self.head(), route: .proxy, clientIP: nil)
        _ = busy.requestEnd()
        _ = busy.upstreamConnected()
        #expect(busy.clientInputClosed() == .none)
        _ = busy.responseHead(Self.ok)
        #expect(busy.responseEnd() == .relay(.end(nil), then: .closeBoth))
        var gone = Machine()
        _ = gone.requestHead(Self.head(), route: .proxy, clientIP: nil)
        #expect(gone.clientClosed() == .closeUpstream)
        #expect(gone.upstreamConnectFailed(.badGateway) == .none)
    }

    @Test("a request that asks for an upgrade elsewhere is proxied without it and the connection is not kept")
    func otherUpgrade() {
        var machine = Machine()
        let head = Self.head("/api/ws", [("Upgrade", "websocket"), ("Connection", "Upgrade")])
        guard case .connectUpstream = machine.requestHead(head, route: .proxy, clientIP: nil) else {
            Issue.record("not proxied")
            return
        }
        _ = machine.requestEnd()
        guard case .forward(let parts) = machine.upstreamConnected(), case .head(let sent)? = parts.first else {
            Issue.record("nothing forwarded")
            return
        }
        #expect(!sent.headers.contains(name: "Upgrade"))
        _ = machine.responseHead(Self.ok)
        #expect(machine.responseEnd() == .relay(.end(nil), then: .closeBoth))
    }
}
