import Logging
import MQTTCore
import NIOCore
import NIOPosix
import ProxyProtocol

/// Limits for a new client connection.
struct ClientSettings: Sendable {
    /// The largest first packet accepted (`--connect-buffer`).
    var connectBuffer: Int
    /// How long a client has to send its whole first packet (`--connect-timeout`).
    var connectTimeout: TimeAmount
    /// How long a TCP connect to a backend may take before the next backend is tried.
    var backendConnectTimeout: TimeAmount = .seconds(3)
    /// Send a PROXY protocol v2 header to the backend first (`--proxy-protocol`), so the node sees the client's
    /// address.
    var proxyProtocol = false

    /// The PROXY protocol v2 header for `client`, or an empty buffer when it is off.
    func proxyHeader(for client: any Channel) -> ByteBuffer {
        var header = ByteBuffer()
        if proxyProtocol {
            ProxyProtocolHeader.encode(source: client.remoteAddress, destination: client.localAddress, into: &header)
        }
        return header
    }
}

/// The first handler of every client connection: buffers bytes until the first packet is a complete CONNECT
/// (`FirstPacketStateMachine`), chooses the backend (`GatewayState.candidates(for:)`), connects to it (the next
/// candidate when one refuses), replays the buffered bytes, and then splices the two channels with a
/// `GlueHandler` pair and removes itself.
final class ClientConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private enum Phase {
        case collecting
        /// CONNECT read; connecting to a backend. Reading is paused; stray bytes are still buffered.
        case connecting
        case done
    }

    private let state: GatewayState
    private let settings: ClientSettings
    private var logger: Logger
    private var machine: FirstPacketStateMachine
    private var phase = Phase.collecting
    private var timeout: Scheduled<Void>?

    init(state: GatewayState, settings: ClientSettings, logger: Logger) {
        self.state = state
        self.settings = settings
        self.logger = logger
        machine = FirstPacketStateMachine(maximumSize: settings.connectBuffer)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        logger[metadataKey: "gateway/peer"] = "\(context.remoteAddress.map { "\($0)" } ?? "?")"
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
        let bytes = unwrapInboundIn(data)
        let outcome = machine.receive(bytes)
        guard case .collecting = phase else { return }  // connecting: only buffered, replayed later
        switch outcome {
        case .needMore:
            return
        case .reject(let rejection):
            logger.debug("closing: first packet refused", metadata: ["gateway/reason": "\(rejection.reason)"])
            state.countRejected("bad-first-packet")
            if let response = rejection.response {
                phase = .done
                timeout?.cancel()
                let channel = context.channel
                context.writeAndFlush(NIOAny(response)).whenComplete { _ in channel.close(promise: nil) }
            } else {
                finish(context)
            }
        case .connect(let connect):
            timeout?.cancel()
            phase = .connecting
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
            logger[metadataKey: "mqtt/client_id"] = "\(connect.clientID)"
            let candidates = state.candidates(for: connect.clientID)
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

    /// Connects to the first of `candidates`; on failure, to the next; with none left, closes the client.
    private func tryConnect(
        _ context: ChannelHandlerContext, connect: FirstPacketStateMachine.Connect, candidates: ArraySlice<Backend>
    ) {
        guard case .connecting = phase else { return }
        guard let backend = candidates.first else {
            logger.warning("closing: no backend accepted the connection")
            state.countRejected("no-backend")
            finish(context)
            return
        }
        let (clientGlue, backendGlue) = GlueHandler.matchedPair(traffic: state.traffic(for: backend.name))
        let loop = context.eventLoop
        let backendGlueBound = NIOLoopBound(backendGlue, eventLoop: loop)
        let bound = NIOLoopBound((self, context, clientGlue), eventLoop: loop)
        ClientBootstrap(group: loop)
            .connectTimeout(settings.backendConnectTimeout)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(backendGlueBound.value)
                }
            }
            .connect(host: backend.host, port: backend.mqttPort)
            .whenComplete { result in
                let (handler, context, clientGlue) = bound.value
                switch result {
                case .success(let channel):
                    handler.splice(context, to: channel, backend: backend, clientGlue: clientGlue, connect: connect)
                case .failure(let error):
                    handler.logger.info(
                        "backend refused the connection; trying the next",
                        metadata: ["gateway/backend": "\(backend.name.rawValue)", "gateway/error": "\(error)"])
                    handler.tryConnect(context, connect: connect, candidates: candidates.dropFirst())
                }
            }
    }

    /// Replays the buffered bytes to `channel`, joins the two channels and steps out of the pipeline.
    private func splice(
        _ context: ChannelHandlerContext, to channel: any Channel, backend: Backend, clientGlue: GlueHandler,
        connect: FirstPacketStateMachine.Connect
    ) {
        guard case .connecting = phase, context.channel.isActive else {
            channel.close(promise: nil)
            return
        }
        phase = .done
        var replay = settings.proxyHeader(for: context.channel)
        var buffered = machine.bufferedBytes
        replay.writeBuffer(&buffered)
        channel.writeAndFlush(replay, promise: nil)
        do {
            try context.pipeline.syncOperations.addHandler(clientGlue)
        } catch {
            channel.close(promise: nil)
            context.close(promise: nil)
            return
        }
        guard state.register(context.channel, on: backend.name) else {
            logger.info("closing: backend went down while connecting", metadata: ["gateway/backend": "\(backend.name.rawValue)"])
            context.close(promise: nil)
            return
        }
        logger.info(
            "proxying",
            metadata: [
                "gateway/backend": "\(backend.name.rawValue)", "mqtt/version": "\(connect.version)",
                "gateway/upstream": "\(channel.localAddress.map { "\($0)" } ?? "?")",
            ])
        let client = context.channel
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        // Reading resumes through the client's GlueHandler, which reads only while the backend is writable.
        client.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
    }
}

@available(*, unavailable)
extension ClientConnectionHandler: Sendable {}
