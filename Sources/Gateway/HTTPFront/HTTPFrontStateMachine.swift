import NIOCore
import NIOHTTP1

/// One client connection of the HTTP front, as pure state: request parts and upstream events in, what to do next out.
///
/// Requests arrive one at a time (NIO's `HTTPServerPipelineHandler` holds back a pipelined request until the
/// response to the one before has ended). Each request is routed by the shell when its head arrives:
/// - `.webSocket`: at the request's end, answer `101` and hand the connection to the WebSocket path;
/// - `.respond`: at the request's end, send that response (a local route, or a refusal);
/// - `.proxy`: relay it to a node over this connection's **one** upstream connection, created when first needed
///   and reused by the following requests while it stays open.
///
/// The request's body is streamed upstream as it comes (held here only while the upstream connection is being
/// made, when `readsDownstream` is false so the shell stops reading); the response streams back. An upstream that
/// cannot be reached gives `502` (`503` when there is no node to try); an upstream that closes before its response
/// began gives `502` and one that closes in the middle closes the client too. A response that ends before its
/// request has been sent whole closes both connections, since neither is in a known state any more.
struct HTTPFrontStateMachine {
    /// How the shell routes a request, decided from its head.
    enum Route: Equatable, Sendable {
        case webSocket(WebSocketUpgrade.Accepted)
        /// Answer with `response`; `close`: close the connection after it whatever the request asked.
        case respond(LocalResponse, close: Bool)
        case proxy
    }

    /// What happens after a relayed response part has been written.
    enum After: Equatable, Sendable {
        case nothing
        /// The node said it closes its connection after this response: close it now, a new one serves the next.
        case closeUpstream
        case closeBoth
    }

    enum Action: Equatable {
        case none
        /// Choose a node and connect to it; report with `upstreamConnected()` or `upstreamConnectFailed(_:)`.
        case connectUpstream
        /// Write these parts to the upstream connection, then flush.
        case forward([HTTPClientRequestPart])
        /// Write this part to the client, then flush.
        case relay(HTTPServerResponsePart, then: After)
        /// Send `response` in HTTP `version`; close the client after it unless `keepAlive`.
        case respond(LocalResponse, version: HTTPVersion, keepAlive: Bool)
        /// Send `101` for `accepted` and switch the connection to WebSocket (the request head is `request`).
        case upgrade(WebSocketUpgrade.Accepted, request: HTTPRequestHead)
        case closeUpstream
        case closeClient
        case closeBoth
    }

    private struct Exchange {
        var version: HTTPVersion
        var method: HTTPMethod
        var keepAlive: Bool
        var requestEnded = false
        var responseStarted = false
        /// Whether the node keeps its connection after this response.
        var upstreamKeepAlive = true
    }

    private enum Request {
        case idle
        case answering(LocalResponse, version: HTTPVersion, keepAlive: Bool)
        case upgrading(WebSocketUpgrade.Accepted, request: HTTPRequestHead)
        case forwarding(Exchange)
        case closed
    }

    private enum Upstream {
        case none
        /// Connecting; the parts to forward once connected.
        case connecting([HTTPClientRequestPart])
        case connected
    }

    private var request = Request.idle
    private var upstream = Upstream.none
    /// The client shut its output: close after the current exchange.
    private var inputClosed = false

    init() {}

    /// False while a request waits for its upstream connection: the shell holds back reads from the client.
    var readsDownstream: Bool {
        if case .connecting = upstream, case .forwarding = request { return false }
        return true
    }

    /// Whether there is (or will be) an upstream connection.
    var hasUpstream: Bool {
        if case .none = upstream { return false }
        return true
    }

    // MARK: Client events

    /// A request head, with the shell's route and the client's address for `X-Forwarded-For`.
    mutating func requestHead(_ head: HTTPRequestHead, route: Route, clientIP: String?) -> Action {
        guard case .idle = request else { return closeEverything() }
        // After a request that asks for an upgrade, NIO's decoder reads no further requests: such a connection
        // cannot be kept.
        let keepAlive = head.isKeepAlive && !inputClosed && !Self.asksForUpgrade(head)
        switch route {
        case .webSocket(let accepted):
            request = .upgrading(accepted, request: head)
            return .none
        case .respond(let response, let close):
            request = .answering(response, version: head.version, keepAlive: keepAlive && !close)
            return .none
        case .proxy:
            request = .forwarding(Exchange(version: head.version, method: head.method, keepAlive: keepAlive))
            return send(.head(ProxyHeaders.upstreamRequest(head, clientIP: clientIP)))
        }
    }

    mutating func requestBody(_ bytes: ByteBuffer) -> Action {
        guard case .forwarding = request else { return .none }  // an answer or an upgrade ignores the body
        return send(.body(.byteBuffer(bytes)))
    }

    mutating func requestEnd() -> Action {
        switch request {
        case .idle, .closed:
            return .none
        case .answering(let response, let version, let keepAlive):
            request = keepAlive ? .idle : .closed
            return .respond(response, version: version, keepAlive: keepAlive)
        case .upgrading(let accepted, let head):
            request = .closed
            return .upgrade(accepted, request: head)
        case .forwarding(var exchange):
            exchange.requestEnded = true
            request = .forwarding(exchange)
            return send(.end(nil))
        }
    }

    /// The client shut its output (a TCP half-close).
    mutating func clientInputClosed() -> Action {
        inputClosed = true
        switch request {
        case .idle:
            request = .closed
            return hasUpstream ? .closeBoth : .closeClient
        case .answering(let response, let version, _):
            request = .answering(response, version: version, keepAlive: false)
        case .forwarding(var exchange):
            exchange.keepAlive = false
            request = .forwarding(exchange)
        case .upgrading, .closed:
            break
        }
        return .none
    }

    /// The client connection closed.
    mutating func clientClosed() -> Action {
        request = .closed
        guard hasUpstream else { return .none }
        upstream = .none
        return .closeUpstream
    }

    // MARK: Upstream events

    mutating func upstreamConnected() -> Action {
        guard case .connecting(let parts) = upstream else { return .closeUpstream }
        guard case .forwarding = request else {
            upstream = .none
            return .closeUpstream
        }
        upstream = .connected
        return .forward(parts)
    }

    /// No upstream connection could be made: `status` is 502 (refused) or 503 (no node to try).
    mutating func upstreamConnectFailed(_ status: HTTPResponseStatus) -> Action {
        upstream = .none
        guard case .forwarding(let exchange) = request else { return .none }
        let message = status == .serviceUnavailable ? "no node to serve the request" : "no node answered"
        let response = Self.textResponse(status, message)
        if exchange.requestEnded {
            request = exchange.keepAlive ? .idle : .closed
            return .respond(response, version: exchange.version, keepAlive: exchange.keepAlive)
        }
        // Answer once the rest of the request has been read (and dropped).
        request = .answering(response, version: exchange.version, keepAlive: exchange.keepAlive)
        return .none
    }

    mutating func responseHead(_ head: HTTPResponseHead) -> Action {
        guard case .forwarding(var exchange) = request, !exchange.responseStarted else { return closeEverything() }
        let (relayed, keepAlive) = ProxyHeaders.downstreamResponse(
            head, requestVersion: exchange.version, requestMethod: exchange.method, keepAlive: exchange.keepAlive)
        exchange.responseStarted = true
        exchange.keepAlive = keepAlive
        exchange.upstreamKeepAlive = head.isKeepAlive
        request = .forwarding(exchange)
        return .relay(.head(relayed), then: .nothing)
    }

    mutating func responseBody(_ bytes: ByteBuffer) -> Action {
        guard case .forwarding(let exchange) = request, exchange.responseStarted else { return closeEverything() }
        return .relay(.body(.byteBuffer(bytes)), then: .nothing)
    }

    mutating func responseEnd() -> Action {
        guard case .forwarding(let exchange) = request, exchange.responseStarted else { return closeEverything() }
        guard exchange.requestEnded else {
            // The node answered before the whole request was sent: neither connection can be reused.
            request = .closed
            upstream = .none
            return .relay(.end(nil), then: .closeBoth)
        }
        guard exchange.keepAlive else {
            request = .closed
            upstream = .none
            return .relay(.end(nil), then: .closeBoth)
        }
        request = .idle
        guard exchange.upstreamKeepAlive else {
            upstream = .none
            return .relay(.end(nil), then: .closeUpstream)
        }
        return .relay(.end(nil), then: .nothing)
    }

    /// The upstream connection closed (or failed).
    mutating func upstreamClosed() -> Action {
        guard case .connected = upstream else { return .none }
        upstream = .none
        guard case .forwarding(let exchange) = request else { return .none }
        guard !exchange.responseStarted else {
            request = .closed
            return .closeClient
        }
        let response = Self.textResponse(.badGateway, "the node closed the connection")
        guard exchange.requestEnded else {
            request = .answering(response, version: exchange.version, keepAlive: false)
            return .none
        }
        request = .closed
        return .respond(response, version: exchange.version, keepAlive: false)
    }

    // MARK: Helpers

    /// Forwards `part` now, or keeps it until the upstream connection is made (starting it if there is none).
    private mutating func send(_ part: HTTPClientRequestPart) -> Action {
        switch upstream {
        case .connected:
            return .forward([part])
        case .connecting(var parts):
            parts.append(part)
            upstream = .connecting(parts)
            return .none
        case .none:
            upstream = .connecting([part])
            return .connectUpstream
        }
    }

    private mutating func closeEverything() -> Action {
        request = .closed
        guard hasUpstream else { return .closeClient }
        upstream = .none
        return .closeBoth
    }

    /// A request that asks to switch protocols (`Connection: upgrade`) or to tunnel (`CONNECT`).
    static func asksForUpgrade(_ head: HTTPRequestHead) -> Bool {
        head.method == .CONNECT || head.headers[canonicalForm: "connection"].contains { $0.lowercased() == "upgrade" }
    }

    /// A short `text/plain` response.
    static func textResponse(_ status: HTTPResponseStatus, _ message: String) -> LocalResponse {
        LocalResponse(status: Int(status.code), contentType: "text/plain; charset=utf-8", body: message + "\n")
    }
}
