import MQTTCore
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// A small MQTT client over SwiftNIO for the load tool and the integration tests.
///
/// Each client owns one TCP connection on one event loop. All protocol state lives in a handler on that loop; the
/// async methods hop there and wait for the matching acknowledgement. Callers that need to stay on the loop (the
/// load tool) use `onLoop()` and a `MQTTClientDelegate` instead, which costs no task or promise per message.
public final class MQTTClient: Sendable {
    public let configuration: MQTTClientConfiguration
    public let channel: any Channel
    /// The server's CONNACK.
    public let connAck: MQTTPacket.ConnAck
    /// Incoming PUBLISHes, unless a delegate is set (then the delegate gets them). The stream is unbounded and ends
    /// when the connection closes; consume it, or set a delegate.
    public let messages: AsyncStream<MQTTPacket.Publish>
    /// Completes when the connection has closed, with the server's DISCONNECT if it sent one.
    public let closeFuture: EventLoopFuture<CloseInfo>

    let handler: NIOLoopBound<MQTTClientHandler>

    public var eventLoop: any EventLoop { channel.eventLoop }

    private init(
        configuration: MQTTClientConfiguration, channel: any Channel, connAck: MQTTPacket.ConnAck,
        messages: AsyncStream<MQTTPacket.Publish>, closeFuture: EventLoopFuture<CloseInfo>,
        handler: NIOLoopBound<MQTTClientHandler>
    ) {
        self.configuration = configuration
        self.channel = channel
        self.connAck = connAck
        self.messages = messages
        self.closeFuture = closeFuture
        self.handler = handler
    }

    // MARK: Connecting

    /// Opens a TCP connection on one of the group's loops (or on `eventLoop` when given), sends CONNECT and waits for
    /// CONNACK. Throws `MQTTClientError` with code `.connectionRefused` (and the CONNACK) when the server refuses.
    public static func connect(
        _ configuration: MQTTClientConfiguration, eventLoopGroup: any EventLoopGroup,
        eventLoop: (any EventLoop)? = nil
    ) async throws -> (MQTTClient, MQTTPacket.ConnAck) {
        let loop = eventLoop ?? eventLoopGroup.next()
        let (messages, continuation) = AsyncStream.makeStream(of: MQTTPacket.Publish.self)
        let address = try SocketAddress.makeAddressResolvingHost(configuration.host, port: configuration.port)
        var bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(configuration.connectTimeout.timeAmount)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let decoder = MQTTPacketDecoder(
                        role: .client, version: configuration.version,
                        maximumPacketSize: configuration.maximumPacketSize)
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(decoder))
                    try channel.pipeline.syncOperations.addHandler(
                        MQTTClientHandler(
                            configuration: configuration, messages: continuation, eventLoop: channel.eventLoop))
                }
            }
        if let bindAddress = configuration.bindAddress {
            bootstrap = bootstrap
                .channelOption(.ipBindAddressNoPort, value: 1)
                .bind(to: try SocketAddress(ipAddress: bindAddress, port: 0))
        }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(to: address).get()
        } catch {
            continuation.finish()
            if case ChannelError.connectTimeout = error {
                throw MQTTClientError(.connectTimeout, "TCP connect timed out")
            }
            throw error
        }
        let connect = configuration.connectPacket
        let timeout = configuration.connectTimeout.timeAmount
        let (handler, connAckFuture, closeFuture) = try await loop.submit {
            let handler = try channel.pipeline.syncOperations.handler(type: MQTTClientHandler.self)
            handler.start(connect, timeout: timeout)
            return (
                NIOLoopBound(handler, eventLoop: loop), handler.connAckPromise.futureResult,
                handler.closePromise.futureResult
            )
        }.get()
        let connAck = try await connAckFuture.get()
        let client = MQTTClient(
            configuration: configuration, channel: channel, connAck: connAck, messages: messages,
            closeFuture: closeFuture, handler: handler)
        return (client, connAck)
    }

    // MARK: Requests

    /// Sends a PUBLISH. QoS 0 returns once it is written; QoS 1 waits for PUBACK; QoS 2 for PUBREC, sends PUBREL and
    /// waits for PUBCOMP. The packet identifier is assigned here (any in `publish` is replaced). A failure reason
    /// code from the server is returned in the result, not thrown.
    public func publish(_ publish: MQTTPacket.Publish) async throws -> PublishResult {
        let handler = self.handler
        if publish.qos == .atMostOnce {
            let written = eventLoop.makePromise(of: Void.self)
            eventLoop.execute {
                handler.value.publish(publish, waiter: .delegate)
                handler.value.flush(promise: written)
            }
            try await written.futureResult.get()
            return PublishResult(packetID: nil)
        }
        let promise = makeRequestPromise(of: PublishResult.self)
        eventLoop.execute {
            handler.value.publish(publish, waiter: .publish(promise))
            handler.value.flush()
        }
        return try await promise.futureResult.get()
    }

    /// Publishes `payload` to `topic`.
    public func publish(
        to topic: TopicName, payload: ByteBuffer, qos: MQTTQoS = .atMostOnce, retain: Bool = false,
        properties: MQTTProperties = .init()
    ) async throws -> PublishResult {
        try await publish(.init(topic: topic, payload: payload, qos: qos, retain: retain, properties: properties))
    }

    /// Sends SUBSCRIBE and waits for SUBACK (whose reason codes may report failures).
    public func subscribe(
        _ subscriptions: [MQTTPacket.Subscription], properties: MQTTProperties = .init()
    ) async throws -> MQTTPacket.SubAck {
        let handler = self.handler
        let promise = makeRequestPromise(of: MQTTPacket.SubAck.self)
        eventLoop.execute { handler.value.subscribe(subscriptions, properties: properties, promise: promise) }
        return try await promise.futureResult.get()
    }

    /// Subscribes to one filter.
    public func subscribe(to filter: TopicFilter, qos: MQTTQoS = .atMostOnce) async throws -> MQTTPacket.SubAck {
        try await subscribe([.init(filter: filter, options: .init(qos: qos))])
    }

    /// Sends UNSUBSCRIBE and waits for UNSUBACK.
    public func unsubscribe(
        _ filters: [TopicFilter], properties: MQTTProperties = .init()
    ) async throws -> MQTTPacket.UnsubAck {
        let handler = self.handler
        let promise = makeRequestPromise(of: MQTTPacket.UnsubAck.self)
        eventLoop.execute { handler.value.unsubscribe(filters, properties: properties, promise: promise) }
        return try await promise.futureResult.get()
    }

    /// Acknowledges a message received with `autoAck` off: PUBACK for QoS 1, PUBREC for QoS 2 (the PUBREL that
    /// follows is answered automatically). Does nothing for QoS 0.
    public func ack(_ publish: MQTTPacket.Publish) {
        let handler = self.handler
        eventLoop.execute { handler.value.acknowledge(publish) }
    }

    // MARK: Closing

    /// Sends DISCONNECT and closes the connection, returning once it is closed.
    public func disconnect(_ disconnect: MQTTPacket.Disconnect = .init()) async throws {
        let handler = self.handler
        let promise = eventLoop.makePromise(of: Void.self)
        eventLoop.execute { handler.value.disconnect(disconnect, promise: promise) }
        try await promise.futureResult.get()
    }

    /// Closes the TCP connection without DISCONNECT, which makes the server publish the will.
    public func close() {
        channel.close(promise: nil)
    }

    /// Waits until the connection has closed (by either side) and says how.
    public func waitUntilClosed() async -> CloseInfo {
        // The close promise is only ever succeeded.
        (try? await closeFuture.get()) ?? CloseInfo(error: .closed)
    }

    // MARK: Raw access for protocol tests

    /// Encodes and writes any packet as it is, bypassing the session state (no packet identifier is assigned and
    /// no acknowledgement is awaited). Returns once written.
    public func sendRaw(_ packet: MQTTPacket) async throws {
        let handler = self.handler
        let written = eventLoop.makePromise(of: Void.self)
        eventLoop.execute {
            handler.value.write(packet)
            handler.value.flush(promise: written)
        }
        try await written.futureResult.get()
    }

    /// Writes bytes as they are (for malformed-packet tests). Returns once written.
    public func sendRawBytes(_ bytes: ByteBuffer) async throws {
        let handler = self.handler
        let written = eventLoop.makePromise(of: Void.self)
        eventLoop.execute {
            handler.value.writeBytes(bytes)
            handler.value.flush(promise: written)
        }
        try await written.futureResult.get()
    }

    /// A promise that fails with `.requestTimeout` after `configuration.requestTimeout`.
    private func makeRequestPromise<Value: Sendable>(of: Value.Type) -> EventLoopPromise<Value> {
        let promise = eventLoop.makePromise(of: Value.self)
        if let timeout = configuration.requestTimeout {
            let task = eventLoop.scheduleTask(in: timeout.timeAmount) {
                promise.fail(MQTTClientError(.requestTimeout, "no acknowledgement in time"))
            }
            promise.futureResult.whenComplete { _ in task.cancel() }
        }
        return promise
    }
}

extension ChannelOption where Self == ChannelOptions.Types.SocketOption {
    /// IP_BIND_ADDRESS_NO_PORT: with a bound source address, pick the port at connect time, so ports are shared
    /// across destinations (Linux).
    static var ipBindAddressNoPort: Self {
        #if os(Linux)
        Self(level: .init(rawValue: CInt(IPPROTO_IP)), name: .init(rawValue: 24))
        #else
        Self(level: .socket, name: .so_reuseaddr)
        #endif
    }
}
