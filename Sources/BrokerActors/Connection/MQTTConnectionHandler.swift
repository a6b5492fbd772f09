import Logging
import MQTTCore
import NIOCore
import ProxyProtocol

/// The IO shell of one MQTT connection. It feeds decoded packets to `ConnectionStateMachine` and carries out the
/// actions: writes packets, hands broker requests to the `ConnectionPipeline` (batched per read), closes. It sits
/// after `ByteToMessageHandler(MQTTPacketDecoder)`; it encodes outbound packets itself because the version is only
/// known after CONNECT.
///
/// Backpressure: while more than `maxOutstandingRequests` requests wait in the pipeline, socket reads are held, so
/// a publisher faster than the broker is slowed down by TCP instead of growing memory.
public final class MQTTConnectionHandler: ChannelDuplexHandler, ConnectionOutlet {
    public typealias InboundIn = MQTTPacket
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    static let maxOutstandingRequests = 512
    /// How long a closing connection may take to flush its last packets.
    static let closeGrace = TimeAmount.seconds(1)

    private let broker: Broker
    private var machine: ConnectionStateMachine
    private var context: ChannelHandlerContext?
    private var pipeline: ConnectionPipeline?
    private var connectionActor: ConnectionActor?
    private var pendingRequests: [BrokerRequest] = []
    private var reading = false
    private var closing = false
    private var needsFlush = false
    private var outstandingRequests = 0
    private var readHeld = false
    private var timer: Scheduled<Void>?
    private var timerDeadline: Timestamp?
    /// Carries `mqtt/peer`: the client's address, from the socket or, behind a proxy, from its PROXY header.
    private var logger: Logger

    public init(broker: Broker, logger: Logger) {
        self.broker = broker
        self.logger = logger
        self.machine = ConnectionStateMachine(limits: broker.configuration.connection, now: broker.clock.now())
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if let peer = context.channel.remoteAddress { logger[metadataKey: "mqtt/peer"] = "\(peer)" }
        broker.metrics.connectionsCurrent.add(1, ordering: .relaxed)
        broker.metrics.connectionsTotal.add(1, ordering: .relaxed)
        armTimer()
    }

    /// The connection's actor and pipeline, made when the first broker request (CONNECT) is handed over, so a
    /// connection that never sends CONNECT costs only its channel and this handler.
    private func makePipeline(context: ChannelHandlerContext) -> ConnectionPipeline {
        if let pipeline { return pipeline }
        let outlet = NIOLoopBound<any ConnectionOutlet>(self, eventLoop: context.eventLoop)
        let actor = ConnectionActor(outlet: outlet, actorSystem: broker.actorSystem)
        connectionActor = actor
        let box = NIOLoopBound(self, eventLoop: context.eventLoop)
        let made = ConnectionPipeline(
            broker: broker, connection: actor,
            respond: { responses, processed in
                box.eventLoop.execute {
                    box.value.brokerResponded(responses)
                    if processed > 0 { box.value.requestsProcessed(processed) }
                }
            })
        pipeline = made
        return made
    }

    /// One timer per connection, at the machine's next deadline (connect timeout, 1.5 × keep-alive). When it fires
    /// early because packets arrived meanwhile, `tick` finds nothing due and the timer is armed again.
    private func armTimer() {
        guard let context, !closing else { return }
        let timeout = broker.configuration.connectTimeoutMilliseconds
        guard let deadline = machine.nextDeadline(connectTimeoutMilliseconds: timeout) else {
            timer?.cancel()
            timer = nil
            timerDeadline = nil
            return
        }
        if timer != nil, let current = timerDeadline, current <= deadline { return }  // fires first; re-armed then
        timer?.cancel()
        timerDeadline = deadline
        let delay = max(0, deadline.milliseconds - broker.clock.now().milliseconds) + 1
        let box = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: .milliseconds(delay)) {
            let handler = box.value
            handler.timer = nil
            handler.timerDeadline = nil
            let wasConnected = handler.machine.isConnected
            let actions = handler.machine.tick(now: handler.broker.clock.now(), connectTimeoutMilliseconds: timeout)
            if !actions.isEmpty {
                let reason = wasConnected ? "keep-alive timeout" : "connect timeout"
                handler.logger.debug("closing connection", metadata: ["mqtt/reason": "\(reason)"])
            }
            handler.perform(actions)
            handler.submitPending()
            handler.flushIfNeeded()
            handler.armTimer()
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
        connectionActor = nil  // the actor refers back to this handler; drop the cycle
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let packet = unwrapInboundIn(data)
        if case .publish = packet { broker.metrics.messagesReceived.add(1, ordering: .relaxed) }
        reading = true
        perform(machine.received(packet, now: broker.clock.now()))
    }

    /// Behind a proxy (`--proxy-protocol`), `ProxyProtocolDecoder` passes the client's real address before any
    /// packet; it replaces the proxy's address in the log metadata (a LOCAL header, nil, leaves it as it is).
    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .source(let source?) = event as? ProxyProtocolEvent {
            logger[metadataKey: "mqtt/peer"] = "\(source)"
            logger[metadataKey: "mqtt/proxy"] = context.channel.remoteAddress.map { .string("\($0)") }
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        reading = false
        submitPending()
        flushIfNeeded()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let protocolError = error as? MQTTProtocolError {
            logger.debug("protocol error", metadata: ["mqtt/error": "\(protocolError)"])
            perform(machine.fail(protocolError))
        } else {
            logger.debug("connection error", metadata: ["mqtt/error": "\(error)"])
            perform(machine.channelClosed())
            context.close(promise: nil)
        }
        submitPending()
        flushIfNeeded()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        perform(machine.channelClosed())
        submitPending()
        pipeline?.finish()
        broker.metrics.connectionsCurrent.add(-1, ordering: .relaxed)
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    // MARK: ConnectionOutlet

    public func deliver(_ outputs: [SessionOutput]) {
        var outputs = outputs
        if let context, !context.channel.isWritable {
            // A slow consumer: its socket buffer is above the high watermark. QoS 0 messages are dropped (counted);
            // QoS 1/2 are bounded by the in-flight window and the session queue.
            let before = outputs.count
            outputs.removeAll { if case .publish(let p) = $0 { p.qos == .atMostOnce } else { false } }
            broker.metrics.messagesDropped.add(before - outputs.count, ordering: .relaxed)
        }
        perform(machine.deliver(outputs, now: broker.clock.now()))
        submitPending()
        flushIfNeeded()
    }

    public func serverDisconnect(_ reason: MQTTReasonCode) {
        guard let context, !closing else { return }
        logger.debug("server disconnect", metadata: ["mqtt/reason": "\(reason)"])
        if machine.version == .v5, machine.isConnected {
            write(.disconnect(.init(reasonCode: reason)), context: context)
        }
        machine.serverClosed()
        close(context: context)
    }

    // MARK: Actions

    private func brokerResponded(_ responses: [BrokerResponse]) {
        guard !responses.isEmpty else { return }
        let now = broker.clock.now()
        let wasConnected = machine.isConnected
        for response in responses { perform(machine.brokerResponded(response, now: now)) }
        submitPending()
        flushIfNeeded()
        if !wasConnected { armTimer() }  // keep-alive starts with CONNACK
    }

    private func perform(_ actions: [ConnectionStateMachine.Action]) {
        guard let context else { return }
        for action in actions {
            switch action {
            case .send(let packet):
                write(packet, context: context)
            case .request(let request):
                pendingRequests.append(request)
            case .close:
                submitPending()
                close(context: context)
            }
        }
        if !reading { submitPending() }
    }

    private func write(_ packet: MQTTPacket, context: ChannelHandlerContext) {
        guard !closing else { return }
        if case .publish = packet { broker.metrics.messagesSent.add(1, ordering: .relaxed) }
        var buffer = context.channel.allocator.buffer(capacity: 64)
        packet.encode(version: machine.version ?? .v3_1_1, into: &buffer)
        context.write(wrapOutboundOut(buffer), promise: nil)
        needsFlush = true
    }

    private func submitPending() {
        guard !pendingRequests.isEmpty, let context else { return }
        outstandingRequests += pendingRequests.count
        makePipeline(context: context).submit(pendingRequests)
        pendingRequests.removeAll(keepingCapacity: true)
    }

    public func read(context: ChannelHandlerContext) {
        if outstandingRequests > Self.maxOutstandingRequests {
            readHeld = true
        } else {
            context.read()
        }
    }

    private func requestsProcessed(_ count: Int) {
        outstandingRequests -= count
        if readHeld, outstandingRequests <= Self.maxOutstandingRequests / 2, let context {
            readHeld = false
            context.read()
        }
    }

    private func flushIfNeeded() {
        guard needsFlush, let context else { return }
        needsFlush = false
        context.flush()
    }

    private func close(context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        needsFlush = false
        // Close once what was written (CONNACK or DISCONNECT with a reason code) has left, but no later than
        // `closeGrace`: a client that stopped reading (or never finished a TLS handshake) must not keep the
        // connection open by leaving our last packet stuck behind unread data.
        let channel = context.channel
        let forced = context.eventLoop.scheduleTask(in: Self.closeGrace) { channel.close(promise: nil) }
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
            forced.cancel()
            channel.close(promise: nil)
        }
    }
}
