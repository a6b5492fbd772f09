import ArgumentParser
import BrokerActors
import ClusterTransport
import Foundation
import Logging
import MQTTCore
import NIOCore
import NIOPosix
import ServiceLifecycle
import StarlingCLI

/// `swift run Node`: a Starling broker node. With no arguments it is a working single-node broker on the default
/// ports. Every option can also be set through its `STARLING_*` environment variable.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "Node", abstract: "A Starling MQTT broker node.",
        discussion: "Every option can also be set with an environment variable: STARLING_ followed by the option "
            + "name in upper case with _ for -, for example STARLING_MQTT_PORT=1884. A port of 0 turns that "
            + "listener off.",
        subcommands: [GenSecretsCommand.self, OwnerCommand.self])

    /// The options that take a value, for the environment fallback; keep in step with the properties below.
    static let valueOptions = [
        "name", "bind", "mqtt-port", "ws-port", "mqtts-port", "tls-cert", "tls-key", "tls-ca", "password-file",
        "acl-file", "max-packet-size", "receive-maximum", "max-inflight", "session-queue", "max-keepalive", "sys-interval",
        "connect-timeout", "log-level", "weight", "data-dir", "http-port", "drain-rate", "admin-user", "admin-password",
    ] + ClusterOptions.valueOptions
    static let booleanFlags = ["no-allow-anonymous", "proxy-protocol", "dev"]

    @Option(help: "This node's name, as in $SYS topics.") var name = "starling@127.0.0.1"
    @Option(help: "The address to listen on; :: listens on IPv6 and IPv4.") var bind = "::"
    @Option(help: "MQTT over TCP.") var mqttPort = 1883
    @Option(help: "MQTT over WebSocket, path /mqtt.") var wsPort = 8083
    @Option(help: "MQTT over TLS; needs --tls-cert and --tls-key.") var mqttsPort = 8883
    @Option(help: "The HTTP API (/api/v5/status for health checks).") var httpPort = 18083
    @Option(help: "PEM certificate chain for MQTTS.") var tlsCert: String?
    @Option(help: "PEM private key for MQTTS.") var tlsKey: String?
    @Option(help: "PEM CA bundle; when given, MQTTS clients must present a certificate it signed.") var tlsCa: String?
    @Option(help: "A mosquitto_passwd-compatible password file.") var passwordFile: String?
    @Option(help: "An ACL rules file (see docs/auth.md).") var aclFile: String?
    @Flag(inversion: .prefixedNo, help: "Accept clients without a user name.") var allowAnonymous = true
    @Option(help: "Largest accepted MQTT packet, in bytes.") var maxPacketSize = 1_048_576
    @Option(help: "Unacknowledged QoS 1/2 messages a client may send at once.") var receiveMaximum = 1024
    @Option(help: "QoS 1/2 messages in flight to one client at most.") var maxInflight = 32
    @Option(help: "Messages queued per offline or slow session.") var sessionQueue = 1000
    @Option(help: "Cap on a client's keep-alive in seconds (0 = no cap).") var maxKeepalive = 0
    @Option(help: "Seconds between $SYS publications (0 = off).") var sysInterval = 10
    @Option(help: "Seconds a new connection has to send CONNECT.") var connectTimeout = 10
    @Flag(help: "Expect a PROXY protocol v2 header first on each MQTT TCP connection (behind the gateway or a load balancer); the client's address is taken from it.")
    var proxyProtocol = false
    @Option(help: "trace, debug, info, notice, warning, error or critical.") var logLevel = "info"
    @OptionGroup(title: "Cluster") var cluster: ClusterOptions
    @Option(help: "This node's share of sessions relative to the others (rendezvous-hashing weight).") var weight = 1.0
    @Option(help: "Directory for persistent sessions and retained messages (default: memory only).") var dataDir: String?
    @Flag(help: "A local test node: a missing cookie or admin password is generated (printed once, kept in the data dir).")
    var dev = false
    @Option(help: "The admin API's user name.") var adminUser = "admin"
    @Option(help: "The admin API's password (better through STARLING_ADMIN_PASSWORD); without one the admin API is closed.")
    var adminPassword: String?
    @Option(help: "On SIGTERM, sessions handed to their next owners per second at most (0 = no limit).")
    var drainRate = 500.0

    func validate() throws {
        for (flag, port) in [
            ("--mqtt-port", mqttPort), ("--ws-port", wsPort), ("--mqtts-port", mqttsPort), ("--http-port", httpPort),
        ] {
            guard (0...65_535).contains(port) else { throw ValidationError("\(flag) must be 0...65535, got \(port)") }
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        guard (tlsCert == nil) == (tlsKey == nil) else {
            throw ValidationError("--tls-cert and --tls-key must be given together")
        }
        guard maxPacketSize >= 64, maxPacketSize <= 268_435_460 else {
            throw ValidationError("--max-packet-size must be 64...268435460")
        }
        guard (1...65_535).contains(receiveMaximum) else { throw ValidationError("--receive-maximum must be 1...65535") }
        guard sessionQueue > 0 else { throw ValidationError("--session-queue must be positive") }
        guard (1...65_535).contains(maxInflight) else { throw ValidationError("--max-inflight must be 1...65535") }
        guard (0...65_535).contains(maxKeepalive) else { throw ValidationError("--max-keepalive must be 0...65535") }
        guard drainRate.isFinite, drainRate >= 0 else { throw ValidationError("--drain-rate must be >= 0, got \(drainRate)") }
        guard sysInterval >= 0, connectTimeout > 0 else {
            throw ValidationError("--sys-interval must be >= 0 and --connect-timeout > 0")
        }
        try validateCluster()
        try validateSecrets()
    }

    func run() async throws {
        bootstrapStarlingLogging(level: logLevel)
        let logger = Logger(label: "starling.node")
        let policy = try makePolicy()
        var config = BrokerConfiguration()
        config.nodeName = name
        config.connection.maximumPacketSize = maxPacketSize
        config.connection.receiveMaximum = UInt16(receiveMaximum)
        config.connection.maximumKeepAlive = UInt16(maxKeepalive)
        config.sessionQueueCapacity = sessionQueue
        config.maximumInflight = maxInflight
        config.sysInterval = UInt32(sysInterval)
        config.connectTimeoutMilliseconds = Int64(connectTimeout) * 1000
        logEffectiveConfiguration(logger)
        let secrets = try resolveSecrets()
        let clusterLogger = Logger(label: "starling.cluster")
        let clustered = try clusterSettings(secrets.cluster)
        if clustered == nil { logger.info("cluster off: no --cookie or --cookie-file") }
        let system = try await ClusterSystem(settings: clustered ?? standaloneSettings(), logger: clusterLogger)
        var store: DurableStore?
        var restored = RestoredState()
        if let dataDir {
            do {
                (store, restored) = try DurableStore.open(directory: dataDir)
            } catch {
                throw ValidationError("--data-dir \(error)")
            }
        }
        let broker = Broker(configuration: config, policy: policy, actorSystem: system, store: store, logger: logger)
        await broker.restore(restored)
        let announcer = ServiceAnnouncer(system: system)
        let listeners = ListenerService(
            broker: broker, settings: listenerSettings(), announcer: announcer, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: ClusterService(system: system, broker: broker, logger: clusterLogger)),
            .init(service: listeners),
        ]
        if httpPort > 0 {
            let access = AdminAccess(user: adminUser, password: secrets.adminPassword)
            let http = NodeHTTPService.make(
                broker: broker, access: access, bind: bind, port: httpPort, logger: Logger(label: "starling.http"),
                onBound: { announcer.bound(ServiceNames.http, port: $0) })
            services.append(.init(service: http))
        }
        // Shut down in reverse order: first the drain (sessions handed over while everything still runs), then the
        // HTTP API and the listeners (clients), then the cluster links.
        services.append(.init(service: DrainService(broker: broker, sessionsPerSecond: drainRate, logger: logger)))
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    private func listenerSettings() -> ListenerSettings {
        ListenerSettings(
            bind: bind, mqttPort: mqttPort, wsPort: wsPort, mqttsPort: tlsCert == nil ? 0 : mqttsPort,
            tlsCertificate: tlsCert, tlsKey: tlsKey, tlsCA: tlsCa, maxPacketSize: maxPacketSize,
            connectTimeout: .seconds(Int64(connectTimeout)), proxyProtocol: proxyProtocol)
    }

    /// Logs the settings in force (secrets masked). Through the logger, to stderr, because stdout is block-buffered
    /// when redirected and a killed node would lose it.
    private func logEffectiveConfiguration(_ logger: Logger) {
        let lines = [
            "name=\(name)", "bind=\(bind)", "mqtt-port=\(mqttPort)", "ws-port=\(wsPort)", "http-port=\(httpPort)",
            "mqtts-port=\(tlsCert == nil ? "off (no --tls-cert)" : String(mqttsPort))",
            "tls-cert=\(tlsCert ?? "-")", "tls-key=\(tlsKey == nil ? "-" : "****")", "tls-ca=\(tlsCa ?? "-")",
            "password-file=\(passwordFile ?? "-")", "acl-file=\(aclFile ?? "-")", "allow-anonymous=\(allowAnonymous)",
            "max-packet-size=\(maxPacketSize)", "receive-maximum=\(receiveMaximum)", "max-inflight=\(maxInflight)",
            "session-queue=\(sessionQueue)",
            "max-keepalive=\(maxKeepalive)", "sys-interval=\(sysInterval)", "connect-timeout=\(connectTimeout)", "proxy-protocol=\(proxyProtocol)",
            "log-level=\(logLevel)", "weight=\(weight)", "drain-rate=\(drainRate)", "admin-user=\(adminUser)",
            "admin-password=\(adminPassword == nil ? (dev ? "- (--dev)" : "- (admin API closed)") : "****")", "dev=\(dev)", "data-dir=\(dataDir ?? "- (memory only)")",
        ] + cluster.logWords
        logger.info("configuration", metadata: ["node/config": "\(lines.joined(separator: " "))"])
    }
}

@main
enum NodeMain {
    static func main() async {
        // Run Swift concurrency's global executor on NIO's event loops: actors and tasks then share the loops'
        // threads instead of a second pool, which on a small machine saves a thread hand-off per hop.
        if ProcessInfo.processInfo.environment["STARLING_SEPARATE_EXECUTOR"] == nil {
            _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        }
        let given = Array(CommandLine.arguments.dropFirst())
        // A subcommand takes its own arguments only: the environment fills in the node's options.
        if let first = given.first, [GenSecretsCommand.configuration.commandName, OwnerCommand.configuration.commandName].contains(first) {
            await NodeCommand.main(given)
            return
        }
        let arguments = EnvironmentArguments.merge(
            arguments: Array(CommandLine.arguments.dropFirst()), options: NodeCommand.valueOptions,
            repeatable: ["seed": "STARLING_SEEDS"], flags: NodeCommand.booleanFlags,
            environment: ProcessInfo.processInfo.environment)
        await NodeCommand.main(arguments)
    }
}
