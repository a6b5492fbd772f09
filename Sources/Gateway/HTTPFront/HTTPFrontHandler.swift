import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The shell of one HTTP front connection: routes each request (`/mqtt` upgrades, local routes, the proxy), carries
/// out what `HTTPFrontStateMachine` decides, owns the connection's one upstream channel, and switches the
/// connection to `WebSocketFrontHandler` after a `101`.
///
/// Backpressure: the client is not read while the upstream connection is being made or is not writable; the
/// upstream is not read while the client is not writable (`ProxyUpstreamHandler`). Between requests NIO's
/// `HTTPServerPipelineHandler` stops reading until the response has ended.
final class HTTPFrontHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let state: GatewayState
    private let settings: ClientSettings
    private let local: LocalRoutes
    private var logger: Logger
    private var machine = HTTPFrontStateMachine()
    private var context: ChannelHandlerContext?
    private var upstream: (any Channel)?
    private var upstreamHandler: ProxyUpstreamHandler?
    private var pendingRead = false

    init(state: GatewayState, settings: ClientSettings, local: @escaping LocalRoutes, logger: Logger) {
        self.state = state
        self.settings = settings
        self.local = local
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        logger[metadataKey: "gateway/peer"] = "\(context.remoteAddress.map { "\($0)" } ?? "?")"
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: Client side

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            let route = route(head)
            logger.debug(
                "request",
                metadata: ["http/method": "\(head.method.rawValue)", "http/route": "\(Self.describe(route))"])
            let clientIP = ProxyHeaders.clientIP(context.remoteAddress?.ipAddress)
            perform(machine.requestHead(head, route: route, clientIP: clientIP), context)
        case .body(let bytes):
            perform(machine.requestBody(bytes), context)
        case .end:
            perform(machine.requestEnd(), context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        perform(machine.clientClosed(), context)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            perform(machine.clientInputClosed(), context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("client connection error", metadata: ["gateway/error": "\(error)"])
        perform(machine.clientClosed(), context)
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if machine.readsDownstream, upstream?.isWritable ?? true {
            context.read()
        } else {
            pendingRead = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { upstreamHandler?.clientBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    /// The route of a request, from its head.
    private func route(_ head: HTTPRequestHead) -> HTTPFrontStateMachine.Route {
        switch WebSocketUpgrade.decide(head) {
        case .accept(let accepted):
            return .webSocket(accepted)
        case .refuse(let status, let message, let headers):
            var response = HTTPFrontStateMachine.textResponse(status, message)
            response.headers = headers
            return .respond(response, close: true)
        case .notMQTTPath:
            if let response = local(head.method.rawValue, head.uri) { return .respond(response, close: false) }
            return .proxy
        }
    }

    private static func describe(_ route: HTTPFrontStateMachine.Route) -> String {
        switch route {
        case .webSocket: "websocket"
        case .respond(let response, _): "local \(response.status)"
        case .proxy: "proxy"
        }
    }

    // MARK: Upstream side (called by ProxyUpstreamHandler, on this event loop)

    func upstreamResponse(_ part: HTTPClientResponsePart, from channel: any Channel) {
        guard let context, channel === upstream else { return }
        switch part {
        case .head(let head): perform(machine.responseHead(head), context)
        case .body(let bytes): perform(machine.responseBody(bytes), context)
        case .end: perform(machine.responseEnd(), context)
        }
    }

    func upstreamClosed(_ channel: any Channel) {
        guard channel === upstream else { return }
        upstream = nil
        upstreamHandler = nil
        guard let context else { return }
        perform(machine.upstreamClosed(), context)
        resumeReading(context)
    }

    func upstreamBecameWritable() {
        guard let context else { return }
        resumeReading(context)
    }

    /// Whether the client can take more of the response now.
    var clientWritable: Bool { context?.channel.isWritable ?? false }

    // MARK: Actions

    private func perform(_ action: HTTPFrontStateMachine.Action, _ context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .connectUpstream:
            connectUpstream(context)
        case .forward(let parts):
            guard let upstream else { return }
            for part in parts { upstream.write(part, promise: nil) }
            upstream.flush()
        case .relay(let part, let after):
            let write = context.writeAndFlush(wrapOutboundOut(part))
            switch after {
            case .nothing:
                break
            case .closeUpstream:
                closeUpstream()
            case .closeBoth:
                closeUpstream()
                let channel = context.channel
                write.whenComplete { _ in channel.close(promise: nil) }
            }
        case .respond(let response, let version, let keepAlive):
            respond(response, version: version, keepAlive: keepAlive, context)
        case .upgrade(let accepted, let request):
            upgrade(accepted, request: request, context)
        case .closeUpstream:
            closeUpstream()
        case .closeClient:
            context.close(promise: nil)
        case .closeBoth:
            closeUpstream()
            context.close(promise: nil)
        }
    }

    private func closeUpstream() {
        upstream?.close(promise: nil)
        upstream = nil
        upstreamHandler = nil
    }

    private func resumeReading(_ context: ChannelHandlerContext) {
        guard pendingRead, machine.readsDownstream, upstream?.isWritable ?? true else { return }
        pendingRead = false
        context.read()
    }

    private func respond(
        _ response: LocalResponse, version: HTTPVersion, keepAlive: Bool, _ context: ChannelHandlerContext
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        for header in response.headers { headers.add(name: header.name, value: header.value) }
        headers.add(name: "Content-Length", value: String(response.body.utf8.count))
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if version.major == 1, version.minor == 0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        let head = HTTPResponseHead(
            version: version, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        let body = context.channel.allocator.buffer(string: response.body)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            closeUpstream()
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// Connects this connection's upstream to the first node with an HTTP port (`GatewayState.candidates(for: "")`).
    private func connectUpstream(_ context: ChannelHandlerContext) {
        guard let backend = state.candidates(for: "").first(where: { $0.httpPort > 0 }) else {
            logger.info("no node with an HTTP port for the request")
            perform(machine.upstreamConnectFailed(.serviceUnavailable), context)
            resumeReading(context)
            return
        }
        let loop = context.eventLoop
        let upstreamHandler = ProxyUpstreamHandler(front: self)
        let bound = NIOLoopBound((self, context, upstreamHandler), eventLoop: loop)
        let handlerBound = NIOLoopBound(upstreamHandler, eventLoop: loop)
        ClientBootstrap(group: loop)
            .connectTimeout(settings.backendConnectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHTTPClientHandlers()
                    try sync.addHandler(handlerBound.value)
                }
            }
            .connect(host: backend.host, port: backend.httpPort)
            .whenComplete { result in
                let (handler, context, upstreamHandler) = bound.value
                switch result {
                case .success(let channel):
                    handler.upstream = channel
                    handler.upstreamHandler = upstreamHandler
                    handler.perform(handler.machine.upstreamConnected(), context)
                    // Closed before it was recorded as the upstream: report it now.
                    if !channel.isActive { handler.upstreamClosed(channel) }
                case .failure(let error):
                    handler.logger.info(
                        "node refused the HTTP connection",
                        metadata: ["gateway/backend": "\(backend.name.rawValue)", "gateway/error": "\(error)"])
                    handler.perform(handler.machine.upstreamConnectFailed(.badGateway), context)
                }
                handler.resumeReading(context)
            }
    }

    /// Answers `101`, then replaces the HTTP handlers with a `WebSocketFrontHandler`. The request decoder goes last:
    /// removing it hands the bytes it holds after the request (the first frames, if the client sent them early) to
    /// the new handler.
    private func upgrade(
        _ accepted: WebSocketUpgrade.Accepted, request: HTTPRequestHead, _ context: ChannelHandlerContext
    ) {
        context.write(wrapOutboundOut(.head(WebSocketUpgrade.switchingProtocols(accepted))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        closeUpstream()
        let sync = context.pipeline.syncOperations
        do {
            try sync.addHandler(
                WebSocketFrontHandler(state: state, settings: settings, upgradeRequest: request, logger: logger),
                position: .after(self))
            sync.removeHandler(context: context, promise: nil)
            try removeIfPresent(HTTPServerPipelineHandler.self, sync)
            try removeIfPresent(HTTPServerProtocolErrorHandler.self, sync)
            try removeIfPresent(NIOHTTPResponseHeadersValidator.self, sync)
            try removeIfPresent(HTTPResponseEncoder.self, sync)
            let decoder = try sync.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)
            sync.removeHandler(context: decoder, promise: nil)
        } catch {
            logger.warning("closing: could not switch to WebSocket", metadata: ["gateway/error": "\(error)"])
            context.close(promise: nil)
        }
    }

    private func removeIfPresent<Handler: RemovableChannelHandler>(
        _ type: Handler.Type, _ sync: ChannelPipeline.SynchronousOperations
    ) throws {
        guard let handlerContext = try? sync.context(handlerType: type) else { return }
        sync.removeHandler(context: handlerContext, promise: nil)
    }
}

@available(*, unavailable)
extension HTTPFrontHandler: Sendable {}
