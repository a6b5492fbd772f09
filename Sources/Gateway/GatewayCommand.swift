import ArgumentParser
import ClusterTransport
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import StarlingCLI

/// `swift run Gateway`: the front door of a Starling cluster. It reads each MQTT client's CONNECT, sends the
/// connection to the node that owns the client's session, and copies bytes both ways. It finds the nodes either by
/// joining the cluster (`--seed` and the cookie: a member with the gateway role) or from `--backend` (static).
/// Every option can also be set through its `STARLING_*` environment variable (`--backend` as
/// `STARLING_BACKENDS`, `--seed` as `STARLING_SEEDS`, `--weight` as `STARLING_WEIGHTS`, comma lists).
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "Gateway", abstract: "The Starling MQTT gateway: routes each client to its session's node.",
        discussion: "Every option can also be set with an environment variable: STARLING_ followed by the option "
            + "name in upper case with _ for -, for example STARLING_MQTT_PORT=1883; the backends as "
            + "STARLING_BACKENDS, a comma list.")

    /// The options that take a value, for the environment fallback; keep in step with the properties below.
    static let valueOptions = [
        "name", "bind", "mqtt-port", "http-port", "backend", "weight", "connect-buffer", "connect-timeout", "check-interval", "rise",
        "fall", "log-level", "max-connections", "conn-rate-per-ip", "conn-burst-per-ip", "mqtts-port", "tls-cert", "tls-key", "tls-ca",
    ] + ClusterOptions.valueOptions

    @Option(help: "This gateway's member name in the cluster.") var name = "gateway@127.0.0.1"
    @Option(help: "The address to listen on; :: listens on IPv6 and IPv4.") var bind = "::"
    @Option(help: "MQTT over TCP.") var mqttPort = 1883
    @Option(help: "HTTP: MQTT over WebSocket at /mqtt, and the nodes' HTTP API (default: $PORT, else 8080; 0 = off).")
    var httpPort = ProcessInfo.processInfo.environment["PORT"].flatMap { Int($0) } ?? 8080
    @Option(help: "MQTT over TLS, ended at the gateway (the node gets plain MQTT); needs --tls-cert and --tls-key.")
    var mqttsPort = 8883
    @Option(help: "PEM certificate chain for --mqtts-port.") var tlsCert: String?
    @Option(help: "PEM private key for --tls-cert.") var tlsKey: String?
    @Option(help: "PEM CA bundle: when given, TLS clients must present a certificate it signed.") var tlsCa: String?
    @Option(help: ArgumentHelp(
        "A broker node: NAME=HOST:MQTT:WS:HTTP:WEIGHT, NAME being the node's --name; repeatable (STARLING_BACKENDS: a comma list).",
        valueName: "backend"))
    var backend: [String] = []
    @Option(help: ArgumentHelp(
        "NAME=WEIGHT: send clients to node NAME by this weight instead of its own; repeatable (STARLING_WEIGHTS).",
        valueName: "name=weight"))
    var weight: [String] = []
    @OptionGroup(title: "Cluster (join with --seed and a cookie instead of --backend)") var cluster: ClusterOptions
    @Flag(help: "Send a PROXY protocol v2 header to the node first (start the nodes with --proxy-protocol).")
    var proxyProtocol = false
    @Option(help: "Largest first packet (the CONNECT) accepted, in bytes.") var connectBuffer = 65_536
    @Option(help: "Seconds a new connection has to send its whole CONNECT.") var connectTimeout = 10.0
    @Option(help: "Client connections open at once at most (0 = no limit); each proxied client uses 2 descriptors.")
    var maxConnections = 10_000
    @Option(help: "New client connections per second from one source IP (0 = no limit).") var connRatePerIp = 100.0
    @Option(help: "New client connections one source IP may open at once before the rate applies.")
    var connBurstPerIp = 200.0
    @Option(help: "Seconds between health checks of each backend.") var checkInterval = 2.0
    @Option(help: "Consecutive successful checks that make a backend healthy.") var rise = 2
    @Option(help: "Consecutive failed checks that make a backend unhealthy.") var fall = 3
    @Option(help: "trace, debug, info, notice, warning, error or critical.") var logLevel = "info"

    func validate() throws {
        for (flag, port) in [("--mqtt-port", mqttPort), ("--mqtts-port", mqttsPort), ("--http-port", httpPort)] {
            guard (0...65_535).contains(port) else { throw ValidationError("\(flag) must be 0...65535, got \(port)") }
        }
        guard (tlsCert == nil) == (tlsKey == nil) else {
            throw ValidationError("--tls-cert and --tls-key must be given together")
        }
        guard tlsCa == nil || tlsCert != nil else { throw ValidationError("--tls-ca needs --tls-cert and --tls-key") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        guard connectBuffer >= 16, connectBuffer <= 268_435_460 else {
            throw ValidationError("--connect-buffer must be 16...268435460, got \(connectBuffer)")
        }
        guard connectTimeout.isFinite, connectTimeout > 0 else {
            throw ValidationError("--connect-timeout must be > 0 seconds, got \(connectTimeout)")
        }
        guard checkInterval.isFinite, checkInterval >= 0.05 else {
            throw ValidationError("--check-interval must be at least 0.05 seconds, got \(checkInterval)")
        }
        guard maxConnections >= 0 else { throw ValidationError("--max-connections must be >= 0, got \(maxConnections)") }
        guard connRatePerIp.isFinite, connRatePerIp >= 0 else {
            throw ValidationError("--conn-rate-per-ip must be >= 0, got \(connRatePerIp)")
        }
        guard connBurstPerIp.isFinite, connBurstPerIp >= 1 else {
            throw ValidationError("--conn-burst-per-ip must be >= 1, got \(connBurstPerIp)")
        }
        guard (1...100).contains(rise) else { throw ValidationError("--rise must be 1...100, got \(rise)") }
        guard (1...100).contains(fall) else { throw ValidationError("--fall must be 1...100, got \(fall)") }
        _ = try ClusterOptions.nodeName(name)
        _ = try parsedWeights()
        let clustered = try clusterSettings() != nil
        guard clustered || !backend.isEmpty else {
            throw ValidationError(
                "give --seed HOST:PORT with --cookie (join the cluster) or --backend NAME=HOST:MQTT:WS:HTTP:WEIGHT (static backends)")
        }
        guard !clustered || backend.isEmpty else {
            throw ValidationError("--backend and --cookie exclude each other: the backends come from the cluster when it is joined")
        }
        _ = try parsedBackends()
    }

    /// The cluster settings (role gateway, weight 0: it owns nothing); nil without a cookie.
    func clusterSettings() throws -> ClusterSystemSettings? {
        try cluster.settings(name: name, bind: bind, role: .gateway, weight: 0)
    }

    /// The `--weight NAME=W` overrides; throws a `ValidationError` naming the flag.
    func parsedWeights() throws -> [NodeName: Double] {
        var overrides: [NodeName: Double] = [:]
        for text in weight {
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let node = NodeName(parts[0]) else {
                throw ValidationError("--weight must be NAME=WEIGHT with NAME a node's --name, got \(text)")
            }
            guard let value = Double(parts[1]), value.isFinite, value > 0, value <= Member.maximumWeight else {
                throw ValidationError("--weight \(parts[0]): the weight must be a number > 0 and at most 1000000, got \(parts[1])")
            }
            overrides[node] = value
        }
        return overrides
    }

    /// The `--backend` values, parsed; throws a `ValidationError` naming the flag.
    func parsedBackends() throws -> [Backend] {
        var backends: [Backend] = []
        for text in backend {
            do {
                backends.append(try Backend.parse(text))
            } catch {
                throw ValidationError("--backend \(error)")
            }
        }
        var seen = Set<String>()
        for backend in backends where !seen.insert(backend.name.rawValue).inserted {
            throw ValidationError("--backend \(backend.name.rawValue) is given twice")
        }
        return backends
    }

    func run() async throws {
        bootstrapStarlingLogging(level: logLevel)
        let logger = Logger(label: "starling.gateway")
        let backends = try parsedBackends()
        let overrides = try parsedWeights()
        logger.info(
            "configuration",
            metadata: [
                "gateway/config": """
                name=\(name) bind=\(bind) mqtt-port=\(mqttPort) http-port=\(httpPort) \
                backend=\(backends.map(\.description).joined(separator: ",")) weight=\(weight.joined(separator: ",")) \
                connect-buffer=\(connectBuffer) connect-timeout=\(connectTimeout) check-interval=\(checkInterval) \
                rise=\(rise) fall=\(fall) log-level=\(logLevel) max-connections=\(maxConnections) \
                conn-rate-per-ip=\(connRatePerIp) conn-burst-per-ip=\(connBurstPerIp) proxy-protocol=\(proxyProtocol) \(cluster.logWords.joined(separator: " "))
                """
            ])
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        let state: GatewayState
        if let settings = try clusterSettings() {
            state = GatewayState(clusterWithRise: rise, fall: fall, overrides: overrides)
            let system = try await ClusterSystem(settings: settings, logger: Logger(label: "starling.cluster"))
            services.append(.init(service: MembershipFollower(system: system, state: state, logger: logger)))
        } else {
            state = GatewayState(backends: backends, rise: rise, fall: fall, overrides: overrides)
        }
        let settings = ClientSettings(
            connectBuffer: connectBuffer,
            connectTimeout: .nanoseconds(Int64(connectTimeout * 1_000_000_000)), proxyProtocol: proxyProtocol)
        let interval = Duration.milliseconds(Int64(checkInterval * 1000))
        let admission = ConnectionAdmission(
            configuration: .init(maxConnections: maxConnections, ratePerSecond: connRatePerIp, burst: connBurstPerIp),
            state: state)
        let listener = GatewayListener(
            state: state, admission: admission, bind: bind, port: mqttPort, settings: settings, logger: logger)
        let health = HealthCheckService(
            state: state, interval: interval, timeout: min(interval, .seconds(2)), logger: logger)
        services += [.init(service: health), .init(service: listener)]
        if httpPort > 0 {
            // The gateway answers /stats itself; every other path goes to a node's HTTP API and dashboard.
            let local: LocalRoutes = { method, uri in
                StatsRoutes.response(
                    method: method, uri: uri, snapshot: { state.statsSnapshot(openConnections: admission.open) },
                    affinity: { state.affinity(for: $0) })
            }
            let http = HTTPFrontListener(
                state: state, bind: bind, port: httpPort, settings: settings, local: local,
                admit: admission.admit, logger: logger)
            services.append(.init(service: http))
        }
        if let tls = try makeTLSContext(), mqttsPort > 0 {
            services.append(.init(service: GatewayListener(
                state: state, admission: admission, bind: bind, port: mqttsPort, kind: "mqtts", tls: tls,
                settings: settings, logger: logger)))
        }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

extension GatewayCommand {
    /// The TLS server context for `--mqtts-port`; nil without `--tls-cert`. A file that cannot be read is a
    /// `ValidationError` naming its flag.
    func makeTLSContext() throws -> NIOSSLContext? {
        guard let tlsCert, let tlsKey else { return nil }
        let chain: [NIOSSLCertificateSource]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(tlsCert).map { .certificate($0) }
        } catch {
            throw ValidationError("--tls-cert \(tlsCert): \(error)")
        }
        do {
            key = try NIOSSLPrivateKey(file: tlsKey, format: .pem)
        } catch {
            throw ValidationError("--tls-key \(tlsKey): \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        if let tlsCa {
            configuration.trustRoots = .file(tlsCa)
            configuration.certificateVerification = .noHostnameVerification
        }
        return try NIOSSLContext(configuration: configuration)
    }
}

@main
enum GatewayMain {
    static func main() async {
        let arguments = EnvironmentArguments.merge(
            arguments: Array(CommandLine.arguments.dropFirst()), options: GatewayCommand.valueOptions,
            repeatable: ["backend": "STARLING_BACKENDS", "seed": "STARLING_SEEDS", "weight": "STARLING_WEIGHTS"],
            flags: ["proxy-protocol"], environment: ProcessInfo.processInfo.environment)
        await GatewayCommand.main(arguments)
    }
}
