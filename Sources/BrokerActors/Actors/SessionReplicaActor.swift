import ClusterTransport
import Distributed
import MQTTCore

/// The replicas this node holds of other nodes' sessions, at the well-known path `/replicas`.
public distributed actor SessionReplicaActor {
    public typealias ActorSystem = BrokerActorSystem

    static let path = ActorPath("/replicas")!

    private var store = ReplicaStore()

    init(actorSystem: ActorSystem) {
        self.actorSystem = actorSystem
    }

    /// Updates from the primary `from`, in the order it made them. Returns the clients that need a snapshot.
    public distributed func apply(from primary: NodeID, _ updates: [ReplicaUpdate]) -> [ClientID] {
        store.apply(updates, from: primary)
    }

    /// Removes and returns the replicas whose primary was `node`.
    func takeAll(primary node: NodeName) -> [(ClientID, ReplicaStore.Entry)] {
        store.takeAll(primary: node)
    }

    func take(_ clientID: ClientID) -> ReplicaStore.Entry? { store.take(clientID) }

    public distributed func count() -> Int { store.count }
}
