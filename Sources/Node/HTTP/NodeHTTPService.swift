import BrokerActors
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The node's HTTP API (Hummingbird), default port 18083. The health endpoint a load balancer checks, with no
/// login: `GET /api/v5/status` (also `/status`): 200 and `Node <name> is started\nstarling is running` when the node
/// is up and with the majority of the cluster, 503 while it is starting, partitioned, draining or leaving;
/// `?format=json` answers the same as JSON. `/metrics` and `/api/v5/prometheus/stats` give Prometheus text, also
/// without login. The admin routes (`NodeAdminRoutes`) need the admin login.
enum NodeHTTPService {
    /// The application, as a `Service` for the node's service group. `onBound` gets the port actually bound (the
    /// node announces it in its member record).
    static func make(
        broker: Broker, access: AdminAccess, bind: String, port: Int, logger: Logger,
        onBound: @escaping @Sendable (Int) async -> Void
    ) -> some Service {
        let router = Router(context: NodeRequestContext.self)
        let status: @Sendable (Request, NodeRequestContext) async throws -> Response = { request, _ in
            statusResponse(broker.status, json: request.uri.queryParameters.get("format") == "json")
        }
        router.get("/api/v5/status", use: status)
        router.get("/status", use: status)
        let prometheus: @Sendable (Request, NodeRequestContext) async throws -> Response = { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: NodePrometheus.render(broker.nodeInfo))))
        }
        router.get("/metrics", use: prometheus)
        router.get("/api/v5/prometheus/stats", use: prometheus)
        NodeAdminRoutes.add(to: router, broker: broker, access: access)
        return Application(
            router: router,
            configuration: .init(address: .hostname(bind, port: port), serverName: "starling"),
            onServerRunning: { channel in
                logger.info(
                    "listening",
                    metadata: ["listener/kind": "http", "listener/address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
                if let port = channel.localAddress?.port { await onBound(port) }
            },
            logger: logger)
    }

    static func statusResponse(_ status: NodeStatus, json: Bool) -> Response {
        let body: String
        let type: String
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            body = (try? encoder.encode(status)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            type = "application/json"
        } else {
            body = status.text
            type = "text/plain; charset=utf-8"
        }
        return Response(
            status: .init(code: status.httpStatus), headers: [.contentType: type, .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
