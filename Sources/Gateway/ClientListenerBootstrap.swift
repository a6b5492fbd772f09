import NIOCore
import NIOPosix

/// The listening socket every client-facing listener of the gateway uses (MQTT, MQTTS, HTTP): TCP_NODELAY, remote
/// half-closure (a client's shut output reaches the node), 256 KiB / 1 MiB write-buffer water marks for the
/// splice's backpressure.
enum ClientListenerBootstrap {
    /// Binds `host`:`port` (0: any free port); with `::` and no IPv6 on the host, falls back to IPv4 only.
    /// `initializer` sets up each accepted channel; throwing from it closes the channel.
    static func bind(
        host: String, port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        initializer: @escaping @Sendable (any Channel) throws -> Void
    ) async throws -> any Channel {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            .childChannelInitializer { channel in channel.eventLoop.makeCompletedFuture { try initializer(channel) } }
        do {
            return try await bootstrap.bind(host: host, port: port).get()
        } catch where host == "::" {
            return try await bootstrap.bind(host: "0.0.0.0", port: port).get()
        }
    }
}
