import ClusterTransport
import Logging
import NIOCore
import NIOPosix

@testable import Gateway

/// An `HTTPFrontListener` on 127.0.0.1 and a free port, in this process, for the length of `body`.
func withHTTPFront<T>(
    backends: [Backend], connectTimeout: TimeAmount = .seconds(10), connectBuffer: Int = 65_536,
    local: @escaping LocalRoutes = { _, _ in nil },
    _ body: (_ port: Int, _ state: GatewayState) async throws -> T
) async throws -> T {
    let state = GatewayState(backends: backends, rise: 1, fall: 1)
    var logger = Logger(label: "test.http-front")
    logger.logLevel = .critical
    let listener = HTTPFrontListener(
        state: state, bind: "127.0.0.1", port: 0,
        settings: ClientSettings(connectBuffer: connectBuffer, connectTimeout: connectTimeout), local: local,
        logger: logger)
    let server = try await listener.makeServerChannel()
    let port = server.localAddress!.port!
    do {
        let result = try await body(port, state)
        try? await server.close()
        return result
    } catch {
        try? await server.close()
        throw error
    }
}

/// A backend on 127.0.0.1 with the given ports (0: none; the MQTT port is never used here).
func testBackend(_ name: String, ws: Int = 0, http: Int = 0) -> Backend {
    Backend(name: NodeName(name)!, host: "127.0.0.1", mqttPort: 1, wsPort: ws, httpPort: http, weight: 1)
}

/// A port on 127.0.0.1 that nothing listens on (bound once, then closed).
func closedPort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress!.port!
    try await channel.close()
    return port
}
