import BrokerActors
import ClusterTransport
import Foundation
import Hummingbird

#if canImport(Glibc)
import Glibc
#endif

/// The admin part of the node's HTTP API (EMQX-style paths): `POST /api/v5/login`, and behind `AdminAuthMiddleware`
/// `GET /api/v5/cluster`, `GET /api/v5/nodes` and `/api/v5/stats` (every up broker's `NodeInfo`),
/// `GET /api/v5/metrics` (cluster-wide totals), `PUT /api/v5/node/weight` and `POST /api/v5/node/drain`.
enum NodeAdminRoutes {
    struct LoginRequest: Decodable {
        var username: String
        var password: String
    }

    struct LoginResponse: Encodable {
        var token: String
        var expires_in: Int
    }

    struct WeightRequest: Decodable {
        var weight: Double
    }

    struct ClusterView: Encodable {
        struct MemberView: Encodable {
            var node: String
            var incarnation: UInt64
            var role: String
            var status: String
            var weight: Double
            var endpoint: String
            var services: [String: Int]
        }

        var node: String
        var epoch: UInt64
        var status: NodeStatus
        var members: [MemberView]
    }

    static func add(to router: Router<NodeRequestContext>, broker: Broker, access: AdminAccess) {
        router.post("/api/v5/login") { request, context -> Response in
            let body = try await request.decode(as: LoginRequest.self, context: context)
            switch access.login(user: body.username, password: body.password, from: context.clientAddress) {
            case .token(let token):
                return try json(LoginResponse(token: token, expires_in: Int(access.tokenLifetime.components.seconds)))
            case .refused:
                throw HTTPError(.unauthorized, message: "wrong user name or password")
            case .throttled:
                throw HTTPError(.tooManyRequests, message: "too many failed logins")
            }
        }
        let admin = router.group("api/v5").add(middleware: AdminAuthMiddleware(access: access))
        admin.get("cluster") { _, _ -> Response in
            let snapshot = broker.actorSystem.membership
            let members = snapshot.members.map { member in
                ClusterView.MemberView(
                    node: member.id.name.rawValue, incarnation: member.id.incarnation.rawValue,
                    role: "\(member.role)", status: "\(member.status)", weight: member.weight,
                    endpoint: "\(member.endpoint)",
                    services: Dictionary(uniqueKeysWithValues: member.services.map { ($0.name, $0.port) }))
            }
            return try json(ClusterView(
                node: broker.actorSystem.node.name.rawValue, epoch: snapshot.epoch, status: broker.status,
                members: members))
        }
        admin.get("nodes") { _, _ -> Response in
            try json(await broker.clusterInfo())
        }
        admin.get("stats") { _, _ -> Response in
            try json(await broker.clusterInfo())
        }
        admin.get("metrics") { _, _ -> Response in
            try json(NodeInfo.totals(await broker.clusterInfo()))
        }
        admin.put("node/weight") { request, context -> Response in
            let body = try await request.decode(as: WeightRequest.self, context: context)
            guard await broker.reweigh(to: body.weight) else {
                throw HTTPError(.badRequest, message: "weight must be > 0 and at most 1000000, and the node not draining")
            }
            return try json(["node": broker.configuration.nodeName, "weight": "\(body.weight)"])
        }
        admin.post("node/drain") { _, _ -> Response in
            // The same path as SIGTERM: the service group's graceful shutdown starts with the drain, while this
            // response is still written.
            kill(getpid(), SIGTERM)
            return try json(["node": broker.configuration.nodeName, "status": "draining"], status: .accepted)
        }
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(data: try encoder.encode(value))))
    }
}
