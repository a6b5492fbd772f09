import ClusterTransport

/// One node's figures for the admin API (`/api/v5/nodes`, `/api/v5/stats`, `/api/v5/metrics`): its state, uptime,
/// connections and sessions here, and its message counters since start. No client IDs or topics.
public struct NodeInfo: Sendable, Codable, Equatable {
    public var node: String
    public var state: NodeStatus.State
    public var role: String
    public var weight: Double
    public var uptimeSeconds: Int
    /// Client connections on this node now.
    public var connections: Int
    /// Sessions this node owns (connected or not).
    public var sessions: Int
    public var connectionsTotal: Int
    public var messagesReceived: Int
    public var messagesSent: Int
    public var messagesDropped: Int
    public var messagesForwarded: Int

    /// The sum of every counter over `nodes` (for `/api/v5/metrics`); the node fields say "cluster".
    public static func totals(_ nodes: [NodeInfo]) -> [String: Int] {
        [
            "nodes": nodes.count,
            "connections": nodes.reduce(0) { $0 + $1.connections },
            "sessions": nodes.reduce(0) { $0 + $1.sessions },
            "connections.total": nodes.reduce(0) { $0 + $1.connectionsTotal },
            "messages.received": nodes.reduce(0) { $0 + $1.messagesReceived },
            "messages.sent": nodes.reduce(0) { $0 + $1.messagesSent },
            "messages.dropped": nodes.reduce(0) { $0 + $1.messagesDropped },
            "messages.forwarded": nodes.reduce(0) { $0 + $1.messagesForwarded },
        ]
    }
}

extension Broker {
    /// This node's figures now.
    public var nodeInfo: NodeInfo {
        let metrics = self.metrics.snapshot()
        let own = actorSystem.membership.member(named: actorSystem.node.name)
        return NodeInfo(
            node: configuration.nodeName, state: status.state, role: own.map { "\($0.role)" } ?? "broker",
            weight: own?.weight ?? actorSystem.settings.weight, uptimeSeconds: Int(startedAt.secondsUntil(clock.now())),
            connections: metrics.connectionsCurrent, sessions: sessions.count,
            connectionsTotal: metrics.connectionsTotal, messagesReceived: metrics.messagesReceived,
            messagesSent: metrics.messagesSent, messagesDropped: metrics.messagesDropped,
            messagesForwarded: metrics.messagesForwarded)
    }

    /// Every up broker's figures (this node's included), asked in parallel through each node's `/admin`; a node that
    /// does not answer within the call timeout is left out. Sorted by node name.
    public func clusterInfo() async -> [NodeInfo] {
        let others = actorSystem.membership.upBrokers.map(\.id.name).filter { $0 != actorSystem.node.name }
        var all = [nodeInfo]
        await withTaskGroup(of: NodeInfo?.self) { group in
            for node in others {
                group.addTask {
                    guard let admin = try? self.actorSystem.wellKnown(AdminActor.self, path: AdminActor.path, on: node)
                    else { return nil }
                    return try? await admin.info()
                }
            }
            for await info in group { if let info { all.append(info) } }
        }
        return all.sorted { $0.node < $1.node }
    }
}
