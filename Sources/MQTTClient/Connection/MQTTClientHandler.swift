import MQTTCore
import NIOCore

/// The NIO shell of one client connection. It sits after the `MQTTPacketDecoder`, feeds every packet to the
/// `ClientSessionStateMachine` and carries out what that returns: it writes acknowledgements, completes promises and
/// hands messages to the delegate or the `messages` stream. Everything here runs on the channel's event loop.
///
/// Outgoing packets are encoded straight into one pending buffer, which goes to the socket on `flush()` (and at the
/// end of every read burst), so a batch of PUBLISHes or of acknowledgements becomes a single write.
final class MQTTClientHandler: ChannelInboundHandler {
    typealias InboundIn = MQTTPacket
    typealias OutboundOut = ByteBuffer

    enum Waiter {
        case publish(EventLoopPromise<MQTTClient.PublishResult>)
        /// Written through `MQTTClient.LoopView`: the completion goes to the delegate.
        case delegate
        case subscribe(EventLoopPromise<MQTTPacket.SubAck>)
        case unsubscribe(EventLoopPromise<MQTTPacket.UnsubAck>)
    }

    private var state: ClientSessionStateMachine<Waiter>
    private let configuration: MQTTClientConfiguration
    private let messages: AsyncStream<MQTTPacket.Publish>.Continuation
    let connAckPromise: EventLoopPromise<MQTTPacket.ConnAck>
    let closePromise: EventLoopPromise<MQTTClient.CloseInfo>
    var delegate: (any MQTTClientDelegate)?

    private var context: ChannelHandlerContext?
    private var pending: ByteBuffer
    private var keepAliveTask: RepeatedTask?
    private var connectTimeout: Scheduled<Void>?
    private var closeInfo = MQTTClient.CloseInfo()

    /// The pending buffer is replaced rather than reused once it grew past this.
    private static let pendingCapacityLimit = 64 * 1024

    init(
        configuration: MQTTClientConfiguration, messages: AsyncStream<MQTTPacket.Publish>.Continuation,
        eventLoop: any EventLoop
    ) {
        self.configuration = configuration
        self.messages = messages
        self.state = ClientSessionStateMachine(autoAck: configuration.autoAck)
        self.connAckPromise = eventLoop.makePromise()
        self.closePromise = eventLoop.makePromise()
        self.pending = ByteBufferAllocator().buffer(capacity: 256)
    }

    var isActive: Bool { context != nil }
    var isWritable: Bool { context?.channel.isWritable ?? false }
    var outstandingPublishes: Int { state.outstandingPublishes }
    var sendQuota: Int { state.sendQuota }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch state.receive(unwrapInboundIn(data)) {
        case .none: break
        case .connAck(let ack): connAckReceived(ack, context: context)
        case .deliver(let publish, let reply):
            if let reply { write(reply) }
            if let delegate { delegate.mqttClient(didReceive: publish) } else { messages.yield(publish) }
        case .reply(let packet): write(packet)
        case .publishCompleted(let waiter, let result):
            switch waiter {
            case .publish(let promise): promise.succeed(result)
            case .delegate: delegate?.mqttClient(didComplete: result)
            case .subscribe, .unsubscribe: preconditionFailure("publish completed a subscribe waiter")
            }
            while let publish = state.dequeuePublish() { write(.publish(publish)) }
        case .subscribeCompleted(let waiter, let ack):
            if case .subscribe(let promise) = waiter { promise.succeed(ack) }
        case .unsubscribeCompleted(let waiter, let ack):
            if case .unsubscribe(let promise) = waiter { promise.succeed(ack) }
        case .serverDisconnected(let disconnect):
            closeInfo.serverDisconnect = disconnect
            context.close(promise: nil)
        case .protocolViolation(let reason):
            fail(MQTTClientError(.protocolViolation, reason), context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flush()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        delegate?.mqttClient(writabilityChanged: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? MQTTProtocolError {
            fail(MQTTClientError(.decodingFailed, error.reason), context: context)
        } else {
            fail(MQTTClientError(.connectionClosed, "transport error"), context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.context = nil
        keepAliveTask?.cancel()
        connectTimeout?.cancel()
        let error = closeInfo.error ?? .closed
        connAckPromise.fail(error)
        for waiter in state.close() {
            switch waiter {
            case .publish(let promise): promise.fail(error)
            case .subscribe(let promise): promise.fail(error)
            case .unsubscribe(let promise): promise.fail(error)
            case .delegate: break
            }
        }
        messages.finish()
        delegate?.mqttClient(didClose: closeInfo)
        delegate = nil  // breaks the cycle client -> handler -> delegate -> client
        closePromise.succeed(closeInfo)
        context.fireChannelInactive()
    }

    private func fail(_ error: MQTTClientError, context: ChannelHandlerContext) {
        if closeInfo.error == nil { closeInfo.error = error }
        connAckPromise.fail(error)
        context.close(promise: nil)
    }

    // MARK: Connecting and keep-alive

    /// Sends CONNECT and bounds the wait for CONNACK.
    func start(_ connect: MQTTPacket.Connect, timeout: TimeAmount) {
        guard let context else { return }
        write(.connect(connect))
        flush()
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        connectTimeout = context.eventLoop.scheduleTask(in: timeout) {
            guard let context = bound.value.context else { return }
            bound.value.fail(MQTTClientError(.connectTimeout, "no CONNACK in time"), context: context)
        }
    }

    private func connAckReceived(_ ack: MQTTPacket.ConnAck, context: ChannelHandlerContext) {
        connectTimeout?.cancel()
        guard !ack.reasonCode.isFailure else {
            fail(MQTTClientError(.connectionRefused, "CONNACK refused the connection", connAck: ack), context: context)
            return
        }
        let seconds = ack.properties.serverKeepAlive ?? configuration.keepAliveSeconds
        if seconds > 0 {
            let interval = TimeAmount.seconds(Int64(seconds))
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            keepAliveTask = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                bound.value.keepAliveTick()
            }
        }
        connAckPromise.succeed(ack)
    }

    private func keepAliveTick() {
        guard let context else { return }
        switch state.keepAliveTick() {
        case .sendPing:
            write(.pingReq)
            flush()
        case .timedOut:
            fail(MQTTClientError(.keepAliveTimeout, "no PINGRESP within the keep-alive"), context: context)
        }
    }

    // MARK: Outgoing

    /// Encodes a packet into the pending buffer; nothing reaches the socket before `flush()`.
    func write(_ packet: MQTTPacket) {
        packet.encode(version: configuration.version, into: &pending)
    }

    /// Appends bytes as they are to the pending buffer.
    func writeBytes(_ bytes: ByteBuffer) {
        pending.writeImmutableBuffer(bytes)
    }

    /// Writes the pending buffer to the socket. `promise` completes when it was written (at once if nothing was
    /// pending), or fails when the connection is closed.
    func flush(promise: EventLoopPromise<Void>? = nil) {
        guard let context else {
            pending.clear()
            promise?.fail(MQTTClientError.closed)
            return
        }
        guard pending.readableBytes > 0 else {
            promise?.succeed()
            return
        }
        context.writeAndFlush(wrapOutboundOut(pending), promise: promise)
        if pending.capacity > Self.pendingCapacityLimit {
            pending = context.channel.allocator.buffer(capacity: 256)
        } else {
            pending.clear()  // the written buffer still holds the old storage, so this allocates fresh storage
        }
    }

    /// Starts a PUBLISH: QoS 0 is written at once; QoS 1 and 2 get a packet identifier and are written, or queued
    /// while the server's Receive Maximum is reached. QoS 0 waiters are not completed here.
    func publish(_ publish: MQTTPacket.Publish, waiter: Waiter) {
        guard isActive else {
            if case .publish(let promise) = waiter { promise.fail(MQTTClientError.closed) }
            return
        }
        switch state.publish(publish, waiter: waiter) {
        case .send(let publish): write(.publish(publish))
        case .queued: break
        }
    }

    func subscribe(_ subscriptions: [MQTTPacket.Subscription], properties: MQTTProperties,
                   promise: EventLoopPromise<MQTTPacket.SubAck>) {
        guard isActive else { return promise.fail(MQTTClientError.closed) }
        guard let id = state.subscribe(waiter: .subscribe(promise)) else {
            return promise.fail(MQTTClientError(.packetIdentifiersExhausted, "no free packet identifier"))
        }
        write(.subscribe(.init(packetID: id, subscriptions: subscriptions, properties: properties)))
        flush()
    }

    func unsubscribe(_ filters: [TopicFilter], properties: MQTTProperties,
                     promise: EventLoopPromise<MQTTPacket.UnsubAck>) {
        guard isActive else { return promise.fail(MQTTClientError.closed) }
        guard let id = state.unsubscribe(waiter: .unsubscribe(promise)) else {
            return promise.fail(MQTTClientError(.packetIdentifiersExhausted, "no free packet identifier"))
        }
        write(.unsubscribe(.init(packetID: id, filters: filters, properties: properties)))
        flush()
    }

    /// Acknowledges a message delivered while `autoAck` is off.
    func acknowledge(_ publish: MQTTPacket.Publish) {
        guard isActive, let reply = state.acknowledge(publish) else { return }
        write(reply)
        flush()
    }

    /// Sends DISCONNECT, then closes once it is written, or after `Self.disconnectGrace` if the socket stays
    /// blocked; `promise` completes once the channel is closed.
    func disconnect(_ disconnect: MQTTPacket.Disconnect, promise: EventLoopPromise<Void>) {
        closePromise.futureResult.map { _ in }.cascade(to: promise)
        guard let context else { return }
        let channel = context.channel
        write(.disconnect(disconnect))
        let written = context.eventLoop.makePromise(of: Void.self)
        flush(promise: written)
        written.futureResult.whenComplete { _ in channel.close(promise: nil) }
        let grace = context.eventLoop.scheduleTask(in: Self.disconnectGrace) { channel.close(promise: nil) }
        closePromise.futureResult.whenComplete { _ in grace.cancel() }
    }

    private static let disconnectGrace = TimeAmount.seconds(2)
}
