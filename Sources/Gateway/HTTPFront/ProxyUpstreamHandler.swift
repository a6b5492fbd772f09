import NIOCore
import NIOHTTP1

/// The last handler of a proxy connection to a node: hands each response part, and the connection's end, to the
/// client's `HTTPFrontHandler` (both channels are on one event loop), and reads from the node only while the
/// client can take more.
final class ProxyUpstreamHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private var front: HTTPFrontHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false

    init(front: HTTPFrontHandler) {
        self.front = front
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        front = nil  // breaks the cycle front → channel → pipeline → self → front
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        front?.upstreamResponse(unwrapInboundIn(data), from: context.channel)
    }

    func channelInactive(context: ChannelHandlerContext) {
        front?.upstreamClosed(context.channel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A malformed response or a reset: the connection is of no further use.
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { front?.upstreamBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if front?.clientWritable ?? true {
            context.read()
        } else {
            pendingRead = true
        }
    }

    /// The client can take more of the response: resume reading from the node.
    func clientBecameWritable() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }
}

@available(*, unavailable)
extension ProxyUpstreamHandler: Sendable {}
