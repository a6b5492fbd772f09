import NIOCore

/// One half of a splice between two channels on the same event loop: what one channel reads, the other writes.
///
/// Backpressure: a channel only reads while its partner is writable; when the partner's write buffer goes above its
/// high water mark, the `read()` is held back and issued once the partner becomes writable again. End of input on
/// one side (the channels allow remote half-closure) shuts the partner's output; when a side has both its input
/// and output shut, or closes, or fails, the pair is closed.
final class GlueHandler {
    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var inputClosed = false
    private var outputClosed = false
    /// Where the bytes this side reads are counted (`fromClient`: this side is the client's channel).
    private let traffic: TrafficCounter?
    private let fromClient: Bool

    private init(traffic: TrafficCounter?, fromClient: Bool) {
        self.traffic = traffic
        self.fromClient = fromClient
    }

    /// Two handlers, each the other's partner: add the first to the client's channel and the second to the
    /// backend's. When `traffic` is given, the bytes copied each way are counted there.
    static func matchedPair(traffic: TrafficCounter? = nil) -> (GlueHandler, GlueHandler) {
        let first = GlueHandler(traffic: traffic, fromClient: true)
        let second = GlueHandler(traffic: traffic, fromClient: false)
        first.partner = second
        second.partner = first
        return (first, second)
    }

    private func partnerWrite(_ data: NIOAny) { context?.write(data, promise: nil) }

    private func partnerFlush() { context?.flush() }

    private func partnerWriteEOF() {
        guard let context, !outputClosed else { return }
        outputClosed = true
        if inputClosed {
            context.close(promise: nil)
        } else {
            context.close(mode: .output, promise: nil)
        }
    }

    private func partnerCloseFull() { context?.close(promise: nil) }

    private func partnerBecameWritable() {
        guard pendingRead else { return }
        pendingRead = false
        context?.read()
    }

    private var partnerWritable: Bool { context?.channel.isWritable ?? false }
}

@available(*, unavailable)
extension GlueHandler: Sendable {}

extension GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        traffic?.add(unwrapInboundIn(data).readableBytes, fromClient: fromClient)
        partner?.partnerWrite(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.partnerCloseFull()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            inputClosed = true
            partner?.partnerFlush()
            partner?.partnerWriteEOF()
            if outputClosed { context.close(promise: nil) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        partner?.partnerCloseFull()
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if let partner, partner.partnerWritable {
            context.read()
        } else {
            pendingRead = true
        }
    }
}
