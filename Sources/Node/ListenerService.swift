import BrokerActors
import Logging
import MQTTCore
import NIOCore
import NIOPosix
import NIOSSL
import ProxyProtocol
import ServiceLifecycle
import StarlingCLI

struct ListenerSettings: Sendable {
    var bind: String
    var mqttPort: Int
    var wsPort: Int
    var mqttsPort: Int
    var tlsCertificate: String?
    var tlsKey: String?
    var tlsCA: String?
    var maxPacketSize: Int
    var connectTimeout: TimeAmount
    /// Whether MQTT TCP connections start with a PROXY protocol v2 header (sent by the gateway or a load balancer).
    var proxyProtocol = false
}

/// Binds the MQTT, MQTT-over-WebSocket and MQTTS listeners (announcing each bound port in the node's member
/// record), publishes `$SYS`, and closes everything on graceful shutdown.
struct ListenerService: Service {
    let broker: Broker
    let settings: ListenerSettings
    let announcer: ServiceAnnouncer
    let logger: Logger

    func run() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let tls = try makeTLSContext()
        var channels: [any Channel] = []
        if settings.mqttPort > 0 {
            channels.append(try await bind(port: settings.mqttPort, kind: ServiceNames.mqtt, group: group) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if settings.proxyProtocol {
                        try channel.pipeline.syncOperations.addHandler(makeProxyProtocolDecoder(for: channel))
                    }
                    try self.addMQTTHandlers(to: channel.pipeline.syncOperations)
                }
            })
        }
        if settings.wsPort > 0 {
            channels.append(try await bind(port: settings.wsPort, kind: ServiceNames.webSocket, group: group) { channel in
                WebSocketMQTT.configure(
                    channel, broker: broker, maxPacketSize: settings.maxPacketSize,
                    upgradeTimeout: settings.connectTimeout, logger: logger)
            })
        }
        if let tls, settings.mqttsPort > 0 {
            channels.append(try await bind(port: settings.mqttsPort, kind: ServiceNames.mqtts, group: group) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                    try self.addMQTTHandlers(to: channel.pipeline.syncOperations)
                }
            })
        }
        let sys = Task { await broker.runSysPublisher() }
        let housekeeping = Task { await broker.runHousekeeping() }
        try? await gracefulShutdown()
        sys.cancel()
        housekeeping.cancel()
        logger.info("shutting down")
        for channel in channels { try? await channel.close() }
    }

    func addMQTTHandlers(to pipeline: ChannelPipeline.SynchronousOperations) throws {
        let decoder = MQTTPacketDecoder(role: .server, maximumPacketSize: settings.maxPacketSize)
        try pipeline.addHandler(ByteToMessageHandler(decoder))
        try pipeline.addHandler(MQTTConnectionHandler(broker: broker, logger: logger))
    }

    /// Reads the PROXY header before any MQTT byte; the MQTT handler takes the client's address from its event.
    private func makeProxyProtocolDecoder(for channel: any Channel) -> ProxyProtocolDecoder {
        let logger = self.logger
        let peer = channel.remoteAddress.map { "\($0)" } ?? "?"
        return ProxyProtocolDecoder(onError: { error in
            logger.debug("proxy protocol header refused", metadata: ["mqtt/error": "\(error)", "mqtt/peer": "\(peer)"])
        })
    }

    private func bind(
        port: Int, kind: String, group: any EventLoopGroup,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) async throws -> any Channel {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            // Each channel keeps its receive buffer between reads; start small (an idle client costs less) and let
            // the allocator grow it for busy ones.
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: 65_536))
            .childChannelInitializer(initializer)
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: settings.bind, port: port).get()
        } catch where settings.bind == "::" {
            // No IPv6 on this host: fall back to IPv4 only.
            channel = try await bootstrap.bind(host: "0.0.0.0", port: port).get()
        }
        logger.info(
            "listening",
            metadata: ["listener/kind": "\(kind)", "listener/address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        if let bound = channel.localAddress?.port { announcer.bound(kind, port: bound) }
        return channel
    }

    private func makeTLSContext() throws -> NIOSSLContext? {
        guard let cert = settings.tlsCertificate, let key = settings.tlsKey else { return nil }
        let chain = try NIOSSLCertificate.fromPEMFile(cert).map { NIOSSLCertificateSource.certificate($0) }
        let privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain, privateKey: .privateKey(privateKey))
        if let ca = settings.tlsCA {
            configuration.trustRoots = .file(ca)
            configuration.certificateVerification = .noHostnameVerification
        }
        return try NIOSSLContext(configuration: configuration)
    }
}
