import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// A WebSocket client after the gateway's `101`: collects its frames until the MQTT CONNECT they carry is complete
/// (`WebSocketFirstMessageStateMachine`, within `--connect-timeout`), chooses the node that owns the client's session
/// among those with a WebSocket port, connects to that port (the next candidate when one refuses), sends it the
/// client's own upgrade request, checks that it answers `101` (its response is dropped: the client already has the
/// gateway's, with the same accept value), replays every raw byte the client sent, and splices the two channels with
/// a `GlueHandler` pair.
///
/// A client that is refused gets the CONNACK (if the node would send one) in a binary frame, then a close frame; one
/// that sends nothing useful in time is closed.
final class WebSocketFrontHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        case collecting
        /// CONNECT read; connecting to a node. Reading is paused; stray bytes are still kept for the replay.
        case connecting
        case done
    }

    private let state: GatewayState
    private let settings: ClientSettings
    private let upgradeRequest: HTTPRequestHead
    private var logger: Logger
    private var machine: WebSocketFirstMessageStateMachine
    private var phase = Phase.collecting
    private var timeout: Scheduled<Void>?

    init(state: GatewayState, settings: ClientSettings, upgradeRequest: HTTPRequestHead, logger: Logger) {
        self.state = state
        self.settings = settings
        self.upgradeRequest = upgradeRequest
        self.logger = logger
        self.logger[metadataKey: "gateway/transport"] = "websocket"
        machine = WebSocketFirstMessageStateMachine(maximumSize: settings.connectBuffer)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timeout = context.eventLoop.scheduleTask(in: settings.connectTimeout) {
            let (handler, context) = bound.value
            guard case .collecting = handler.phase else { return }
            handler.logger.debug("closing: no complete CONNECT in time")
            handler.state.countRejected("connect-timeout")
            handler.finish(context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timeout?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let outcome = machine.receive(unwrapInboundIn(data))
        guard case .collecting = phase else { return }  // connecting: only kept, replayed later
        switch outcome {
        case .needMore:
            return
        case .reject(let rejection):
            logger.debug(
                "closing: first message refused",
                metadata: ["gateway/reason": "\(rejection.reason)", "gateway/close_code": "\(rejection.closeCode)"])
            state.countRejected("bad-first-packet")
            var frames = ByteBuffer()
            var code = rejection.closeCode
            if let response = rejection.response {
                frames.writeImmutableBuffer(WebSocketServerFrame.binary(response))
                code = WebSocketFirstMessageStateMachine.CloseCode.protocolError
            }
            frames.writeImmutableBuffer(WebSocketServerFrame.close(code: code))
            closeAfter(writing: frames, context)
        case .connect(let connect):
            timeout?.cancel()
            phase = .connecting
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
            logger[metadataKey: "mqtt/client_id"] = "\(connect.clientID)"
            let candidates = state.candidates(for: connect.clientID).filter { $0.wsPort > 0 }
            tryConnect(context, connect: connect, candidates: candidates[...])
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        phase = .done
        timeout?.cancel()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The client shut its output before it was spliced: nothing sensible can follow.
        if let event = event as? ChannelEvent, event == .inputClosed {
            finish(context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("client connection error", metadata: ["gateway/error": "\(error)"])
        finish(context)
    }

    private func finish(_ context: ChannelHandlerContext) {
        phase = .done
        timeout?.cancel()
        context.close(promise: nil)
    }

    /// Writes `frames` (the client's last), then closes.
    private func closeAfter(writing frames: ByteBuffer, _ context: ChannelHandlerContext) {
        phase = .done
        timeout?.cancel()
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(frames)).whenComplete { _ in channel.close(promise: nil) }
    }

    /// Closes the client with a close frame saying the server could not serve it (1011).
    private func giveUp(_ context: ChannelHandlerContext) {
        closeAfter(writing: WebSocketServerFrame.close(code: 1011), context)
    }

    // MARK: The node

    /// Connects to the first of `candidates`; on failure, to the next; with none left, closes the client.
    private func tryConnect(
        _ context: ChannelHandlerContext, connect: FirstPacketStateMachine.Connect, candidates: ArraySlice<Backend>
    ) {
        guard case .connecting = phase else { return }
        guard let backend = candidates.first else {
            logger.warning("closing: no node accepted the WebSocket connection")
            state.countRejected("no-backend")
            giveUp(context)
            return
        }
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let handshake = BackendHandshakeHandler(timeout: settings.backendConnectTimeout) { result, backendContext in
            let (handler, context) = bound.value
            handler.handshakeDone(result, backendContext: backendContext, context, backend: backend, connect: connect)
        }
        let handshakeBound = NIOLoopBound(handshake, eventLoop: loop)
        let request = WebSocketUpgrade.serialize(upgradeRequest)
        ClientBootstrap(group: loop)
            .connectTimeout(settings.backendConnectTimeout)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(handshakeBound.value)
                }
            }
            .connect(host: backend.host, port: backend.wsPort)
            .whenComplete { result in
                let (handler, context) = bound.value
                switch result {
                case .success(let channel):
                    guard case .connecting = handler.phase, context.channel.isActive else {
                        channel.close(promise: nil)
                        return
                    }
                    channel.writeAndFlush(channel.allocator.buffer(string: request), promise: nil)
                case .failure(let error):
                    handler.logger.info(
                        "node refused the WebSocket connection; trying the next",
                        metadata: ["gateway/backend": "\(backend.name.rawValue)", "gateway/error": "\(error)"])
                    handler.tryConnect(context, connect: connect, candidates: candidates.dropFirst())
                }
            }
    }

    private func handshakeDone(
        _ result: BackendHandshakeHandler.Result, backendContext: ChannelHandlerContext,
        _ context: ChannelHandlerContext, backend: Backend, connect: FirstPacketStateMachine.Connect
    ) {
        let backendChannel = backendContext.channel
        guard case .connecting = phase, context.channel.isActive else {
            backendChannel.close(promise: nil)
            return
        }
        switch result {
        case .failed(let reason):
            logger.warning(
                "closing: the node did not accept the WebSocket upgrade",
                metadata: ["gateway/backend": "\(backend.name.rawValue)", "gateway/reason": "\(reason)"])
            backendChannel.close(promise: nil)
            giveUp(context)
        case .upgraded(let rest):
            splice(context, to: backendContext, rest: rest, backend: backend, connect: connect)
        }
    }

    /// Replays the client's bytes to the node, relays what the node sent after its `101`, joins the two channels
    /// and steps out of both pipelines.
    private func splice(
        _ context: ChannelHandlerContext, to backendContext: ChannelHandlerContext, rest: ByteBuffer, backend: Backend,
        connect: FirstPacketStateMachine.Connect
    ) {
        phase = .done
        let backendChannel = backendContext.channel
        let (clientGlue, backendGlue) = GlueHandler.matchedPair(traffic: state.traffic(for: backend.name))
        do {
            try backendChannel.pipeline.syncOperations.addHandler(backendGlue)
            backendChannel.pipeline.syncOperations.removeHandler(context: backendContext, promise: nil)
            try context.pipeline.syncOperations.addHandler(clientGlue)
        } catch {
            backendChannel.close(promise: nil)
            context.close(promise: nil)
            return
        }
        backendChannel.writeAndFlush(machine.rawBytes, promise: nil)
        if rest.readableBytes > 0 { context.writeAndFlush(wrapOutboundOut(rest), promise: nil) }
        guard state.register(context.channel, on: backend.name) else {
            logger.info(
                "closing: node went down while connecting", metadata: ["gateway/backend": "\(backend.name.rawValue)"])
            context.close(promise: nil)
            return
        }
        logger.info(
            "proxying",
            metadata: [
                "gateway/backend": "\(backend.name.rawValue)", "mqtt/version": "\(connect.version)",
                "gateway/upstream": "\(backendChannel.localAddress.map { "\($0)" } ?? "?")",
            ])
        let client = context.channel
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        // Reading resumes through the client's GlueHandler, which reads only while the node is writable.
        client.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
    }
}

@available(*, unavailable)
extension WebSocketFrontHandler: Sendable {}
