import ClusterTransport

/// What a node's health endpoint (`/api/v5/status`) answers: pure, from the node's member status and its
/// partition verdict and whether it drains. A load balancer sends new clients only to a node that answers 200.
public struct NodeStatus: Sendable, Equatable, Codable {
    public enum State: String, Sendable, Codable {
        /// Joining the cluster: not up in its own membership yet.
        case starting
        /// Up and with the majority of the cluster's brokers (or standalone).
        case running
        /// Up, but seeing no more than half of the brokers it has known (`ClusterHealth`).
        case partitioned
        /// Handing its sessions to other nodes before it stops (`Broker.drain`).
        case draining
        /// Leaving the cluster (graceful shutdown).
        case leaving
    }

    public var node: String
    public var state: State

    public init(node: String, state: State) {
        self.node = node
        self.state = state
    }

    /// The state for a node whose own member record has `memberStatus`.
    public init(node: String, memberStatus: MemberStatus, isPartitioned: Bool, isDraining: Bool = false) {
        let state: State
        switch memberStatus {
        case .joining: state = .starting
        case .up where isDraining: state = .draining
        case .up: state = isPartitioned ? .partitioned : .running
        case .leaving, .down, .removed: state = .leaving
        }
        self.init(node: node, state: state)
    }

    /// 200 when running, else 503.
    public var httpStatus: Int { state == .running ? 200 : 503 }

    /// The plain-text body, in EMQX's form (`Node emqx@127.0.0.1 is started\nemqx is running`).
    public var text: String {
        switch state {
        case .running: "Node \(node) is started\nstarling is running\n"
        case .starting: "Node \(node) is starting\nstarling is not running\n"
        case .partitioned: "Node \(node) is started\nstarling is partitioned from the majority of the cluster\n"
        case .draining: "Node \(node) is draining\nstarling is handing its sessions to other nodes\n"
        case .leaving: "Node \(node) is stopping\nstarling is leaving the cluster\n"
        }
    }
}

extension Broker {
    /// This node's health, for `/api/v5/status`.
    public var status: NodeStatus {
        let own = actorSystem.membership.member(named: actorSystem.node.name)?.status ?? .joining
        return NodeStatus(
            node: configuration.nodeName, memberStatus: own, isPartitioned: isPartitioned, isDraining: isDraining)
    }
}
