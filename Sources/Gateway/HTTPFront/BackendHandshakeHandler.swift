import NIOCore

/// The first handler of a WebSocket connection to a node: reads the node's answer to the forwarded upgrade request
/// (`BackendHandshakeStateMachine`) and reports it once, synchronously on the event loop, so the caller can splice
/// the channels before any further byte is read. The node has `timeout` to answer; a close before the answer is a
/// failure too.
final class BackendHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    enum Result {
        /// Status 101; `rest` followed the response head and belongs to the WebSocket stream.
        case upgraded(rest: ByteBuffer)
        case failed(reason: String)
    }

    private var machine = BackendHandshakeStateMachine()
    private var onResult: ((Result, ChannelHandlerContext) -> Void)?
    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?

    /// - Parameter onResult: called once with the outcome and this handler's context.
    init(timeout: TimeAmount, onResult: @escaping (Result, ChannelHandlerContext) -> Void) {
        self.timeout = timeout
        self.onResult = onResult
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: timeout) {
            let (handler, context) = bound.value
            handler.report(.failed(reason: "no answer to the upgrade in time"), context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        onResult = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch machine.receive(unwrapInboundIn(data)) {
        case .needMore:
            break
        case .upgraded(let rest):
            report(.upgraded(rest: rest), context)
        case .refused(let reason):
            report(.failed(reason: reason), context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        report(.failed(reason: "the node closed the connection during the upgrade"), context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        report(.failed(reason: "\(error)"), context)
    }

    private func report(_ result: Result, _ context: ChannelHandlerContext) {
        timer?.cancel()
        guard let onResult else { return }
        self.onResult = nil
        onResult(result, context)
    }
}

@available(*, unavailable)
extension BackendHandshakeHandler: Sendable {}
