import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// The HTTP front: one HTTP/1.1 port for MQTT over WebSocket at `/mqtt` (routed to the node owning each client's
/// session), the gateway's own routes (`local`), and a reverse proxy to the nodes' HTTP API for everything else. On
/// graceful shutdown it stops accepting; spliced WebSocket clients are registered in `GatewayState` and closed with
/// the MQTT ones.
struct HTTPFrontListener: Service {
    let state: GatewayState
    let bind: String
    let port: Int
    let settings: ClientSettings
    let local: LocalRoutes
    let admit: @Sendable (any Channel) throws -> Void
    let logger: Logger

    /// - Parameter admit: runs first for every accepted connection; throwing closes it before any handler is added
    ///   (for example `ConnectionAdmission.admit`, shared with the MQTT listener).
    init(
        state: GatewayState, bind: String, port: Int, settings: ClientSettings, local: @escaping LocalRoutes,
        admit: @escaping @Sendable (any Channel) throws -> Void = { _ in }, logger: Logger
    ) {
        self.state = state
        self.bind = bind
        self.port = port
        self.settings = settings
        self.local = local
        self.admit = admit
        self.logger = logger
    }

    func run() async throws {
        let channel = try await makeServerChannel()
        logger.info(
            "listening",
            metadata: ["listener/kind": "http", "listener/address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        try? await gracefulShutdown()
        logger.info("shutting down")
        try? await channel.close()
        for client in state.allConnections() { client.close(promise: nil) }
    }

    /// Binds the listening socket on `bind`:`port` (port 0: any free port; `channel.localAddress` tells which). With
    /// `::` and no IPv6 on the host, falls back to IPv4 only. The caller closes the channel.
    func makeServerChannel(
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> any Channel {
        let state = self.state
        let settings = self.settings
        let local = self.local
        let admit = self.admit
        let logger = self.logger
        return try await ClientListenerBootstrap.bind(host: bind, port: port, group: group) { channel in
            try admit(channel)
            try Self.configure(channel, state: state, settings: settings, local: local, logger: logger)
        }
    }

    /// The pipeline of an accepted connection: NIO's HTTP/1.1 server handlers (with pipelining assistance, so one
    /// request is served at a time, and the encoder told of HEAD requests), then `HTTPFrontHandler`. The (empty)
    /// upgrade configuration only makes the request decoder hand on the bytes that follow an upgrade request, for
    /// the WebSocket path; `HTTPFrontHandler` performs the upgrade itself.
    static func configure(
        _ channel: any Channel, state: GatewayState, settings: ClientSettings, local: @escaping LocalRoutes,
        logger: Logger
    ) throws {
        let sync = channel.pipeline.syncOperations
        try sync.configureHTTPServerPipeline(
            withPipeliningAssistance: true, withServerUpgrade: (upgraders: [], completionHandler: { _ in }),
            withErrorHandling: true)
        try sync.addHandler(HTTPFrontHandler(state: state, settings: settings, local: local, logger: logger))
    }
}
