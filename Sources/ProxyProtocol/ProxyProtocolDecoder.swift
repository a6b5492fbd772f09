import NIOCore

/// The first handler of a server child channel whose peer is a proxy speaking PROXY protocol v2: it reads the
/// header, fires `ProxyProtocolEvent.source` (nil for LOCAL), passes on as a normal read whatever followed the
/// header, and removes itself. A bad header closes the channel; nothing of what was received is logged or kept.
///
/// The shell over `ProxyProtocolHeader.decode`. It buffers at most `fixedSize + maximumLength` bytes. It sets no
/// timer: a peer that stops mid-header is left to the next handler's own connect timeout.
public final class ProxyProtocolDecoder: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    private enum State {
        case awaitingHeader
        case forwarding
        case failed
    }

    private let maximumLength: Int
    private let onError: ((ProxyProtocolError) -> Void)?
    private var state = State.awaitingHeader
    private var buffered: ByteBuffer?

    /// - Parameters:
    ///   - maximumLength: the largest length field accepted (addresses and TLVs).
    ///   - onError: called on the event loop with the reason before a bad header closes the channel (to count or
    ///     log it; the error holds no payload).
    public init(
        maximumLength: Int = ProxyProtocolHeader.defaultMaximumLength,
        onError: ((ProxyProtocolError) -> Void)? = nil
    ) {
        self.maximumLength = maximumLength
        self.onError = onError
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch state {
        case .forwarding:
            context.fireChannelRead(data)  // only between our removal request and its completion
            return
        case .failed:
            return
        case .awaitingHeader:
            break
        }
        var incoming = unwrapInboundIn(data)
        if buffered == nil {
            buffered = incoming
        } else {
            buffered!.writeBuffer(&incoming)
        }
        do {
            guard let header = try ProxyProtocolHeader.decode(&buffered!, maximumLength: maximumLength) else { return }
            let rest = buffered!
            buffered = nil
            state = .forwarding
            context.fireUserInboundEventTriggered(ProxyProtocolEvent.source(header.command == .proxy ? header.source : nil))
            if rest.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(rest)) }
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        } catch {
            state = .failed
            buffered = nil
            onError?(error)
            context.close(promise: nil)
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
        // Still short of the header: ask for more even if the next handler, having seen no message, would not.
        if state == .awaitingHeader { context.read() }
    }
}

@available(*, unavailable)
extension ProxyProtocolDecoder: Sendable {}
