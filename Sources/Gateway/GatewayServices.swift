import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// An MQTT listener: every accepted connection starts with a `ClientConnectionHandler` (after a TLS server handler
/// when `tls` is given: TLS ends here and the node gets plain MQTT). On graceful shutdown it stops accepting and
/// closes every proxied connection.
struct GatewayListener: Service {
    let state: GatewayState
    let admission: ConnectionAdmission
    let bind: String
    let port: Int
    /// "mqtt" or "mqtts", for the log.
    var kind = "mqtt"
    var tls: NIOSSLContext? = nil
    let settings: ClientSettings
    let logger: Logger

    func run() async throws {
        let state = self.state
        let admission = self.admission
        let tls = self.tls
        let settings = self.settings
        let logger = self.logger
        let channel = try await ClientListenerBootstrap.bind(host: bind, port: port) { channel in
            try admission.admit(channel)
            if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
            try channel.pipeline.syncOperations.addHandler(
                ClientConnectionHandler(state: state, settings: settings, logger: logger))
        }
        logger.info(
            "listening",
            metadata: ["listener/kind": "\(kind)", "listener/address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        try? await gracefulShutdown()
        logger.info("shutting down", metadata: ["listener/kind": "\(kind)"])
        try? await channel.close()
        for client in state.allConnections() { client.close(promise: nil) }
    }
}

/// Active health checks: every `interval`, each backend known at that moment is checked (`HealthProbe`: its
/// `/api/v5/status`, or a TCP connect when it has no HTTP port). Results go through each backend's
/// `HealthStateMachine`; when a backend becomes unhealthy, every client connection proxied to it is closed at once,
/// so its clients reconnect through the gateway and land on the new owner of their session.
struct HealthCheckService: Service {
    let state: GatewayState
    let interval: Duration
    let timeout: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let started = ContinuousClock.now
                await withTaskGroup(of: Void.self) { group in
                    for backend in state.backends {
                        group.addTask { await checkOnce(backend) }
                    }
                }
                try? await Task.sleep(until: started + interval)
            }
        }
    }

    private func checkOnce(_ backend: Backend) async {
        let result = await HealthProbe.check(backend, timeout: timeout)
        guard !Task.isCancelled else { return }
        let (transition, channels) = state.record(check: result, for: backend.name)
        let metadata: Logger.Metadata = ["gateway/backend": "\(backend.name.rawValue)", "gateway/check": "\(result.detail)"]
        switch transition {
        case .becameUnhealthy?:
            logger.warning(
                "backend down: closing its client connections",
                metadata: metadata.merging(["gateway/connections": "\(channels.count)"]) { $1 })
            for channel in channels { channel.close(promise: nil) }
        case .becameHealthy?:
            logger.info("backend up", metadata: metadata)
        case nil:
            logger.trace("health check", metadata: metadata)
        }
    }
}
