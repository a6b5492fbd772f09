import BrokerActors
import Logging
import MQTTCore
import NIOCore
import NIOHTTP1
import NIOWebSocket

/// MQTT over WebSocket: an HTTP/1.1 upgrade on `/mqtt` with subprotocol `mqtt`, then binary frames carry the MQTT
/// byte stream. A packet may span frames and a frame may hold several packets, so frames are unwrapped into bytes
/// and the normal MQTT decoder reassembles packets.
enum WebSocketMQTT {
    static let path = "/mqtt"
    static let subprotocols = ["mqtt", "mqttv3.1"]

    /// - Parameter upgradeTimeout: how long the client has to complete the HTTP upgrade (the MQTT connect timeout
    ///   takes over after it).
    static func configure(
        _ channel: any Channel, broker: Broker, maxPacketSize: Int, upgradeTimeout: TimeAmount, logger: Logger
    ) -> EventLoopFuture<Void> {
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: max(maxPacketSize + 16, 1 << 14), automaticErrorHandling: true,
            shouldUpgrade: { channel, head in
                guard head.uri.split(separator: "?").first.map(String.init) == path else {
                    return channel.eventLoop.makeSucceededFuture(nil)
                }
                var headers = HTTPHeaders()
                let offered = head.headers[canonicalForm: "Sec-WebSocket-Protocol"].map { String($0) }
                if let chosen = offered.first(where: subprotocols.contains) {
                    headers.add(name: "Sec-WebSocket-Protocol", value: chosen)
                }
                return channel.eventLoop.makeSucceededFuture(headers)
            },
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(WebSocketMQTTFrameHandler())
                    try sync.addHandler(
                        ByteToMessageHandler(MQTTPacketDecoder(role: .server, maximumPacketSize: maxPacketSize)))
                    try sync.addHandler(MQTTConnectionHandler(broker: broker, logger: logger))
                }
            })
        return channel.pipeline.configureHTTPServerPipeline(
            withServerUpgrade: (upgraders: [upgrader], completionHandler: { context in
                context.pipeline.syncOperations.removeHandler(name: HTTPNotFoundHandler.name, promise: nil)
                context.pipeline.syncOperations.removeHandler(name: UpgradeTimeoutHandler.name, promise: nil)
            })
        ).flatMapThrowing {
            let sync = channel.pipeline.syncOperations
            try sync.addHandler(HTTPNotFoundHandler(), name: HTTPNotFoundHandler.name)
            try sync.addHandler(UpgradeTimeoutHandler(timeout: upgradeTimeout), name: UpgradeTimeoutHandler.name)
        }
    }
}

/// Unwraps binary WebSocket frames into bytes for the MQTT decoder and wraps outgoing bytes into binary frames.
/// Text frames are refused [MQTT-6.0.0-1]; pings are answered; a close frame closes the connection.
final class WebSocketMQTTFrameHandler: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = WebSocketFrame

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard frame.maskKey != nil else {
            // Every client frame must be masked (RFC 6455 section 5.1).
            closeWith(.protocolError, context: context)
            return
        }
        switch frame.opcode {
        case .binary, .continuation:
            context.fireChannelRead(wrapInboundOut(frame.unmaskedData))
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            closeWith(.normalClosure, context: context)
        case .text:
            closeWith(.unacceptableData, context: context)  // MQTT travels in binary frames [MQTT-6.0.0-1]
        default:
            break
        }
    }

    private func closeWith(_ code: WebSocketErrorCode, context: ChannelHandlerContext) {
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: code)
        let close = WebSocketFrame(fin: true, opcode: .connectionClose, data: data)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(close)).whenComplete { _ in channel.close(promise: nil) }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let bytes = unwrapOutboundIn(data)
        context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, data: bytes)), promise: promise)
    }
}

/// Answers any plain HTTP request on the WebSocket port: MQTT lives at /mqtt.
final class HTTPNotFoundHandler: ChannelInboundHandler, RemovableChannelHandler {
    static let name = "starling.http-not-found"
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        let body = "MQTT over WebSocket is served at \(WebSocketMQTT.path) (subprotocol mqtt)\n"
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        headers.add(name: "Connection", value: "close")
        let head = HTTPResponseHead(version: .http1_1, status: .notFound, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// Closes a WebSocket-port connection that has not completed its HTTP upgrade in time (a silent or slow client);
/// removed, and its timer cancelled, once the upgrade succeeds.
final class UpgradeTimeoutHandler: ChannelInboundHandler, RemovableChannelHandler {
    static let name = "starling.upgrade-timeout"
    typealias InboundIn = NIOAny

    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }
}
