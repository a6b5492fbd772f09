import ClusterTransport
import Distributed

/// A node's figures as one address (`/admin`), so that the admin API on any node can show the whole cluster.
public distributed actor AdminActor: UnorderedCallRecipient {
    public typealias ActorSystem = BrokerActorSystem

    static let path = ActorPath("/admin")!

    private let broker: Broker

    init(broker: Broker, actorSystem: ActorSystem) {
        self.actorSystem = actorSystem
        self.broker = broker
    }

    /// This node's figures.
    public distributed func info() -> NodeInfo { broker.nodeInfo }
}
