import ClusterTransport
import Distributed
import MQTTCore

/// The node's retained shards as one address (`/retainer`), so that a wildcard subscribe asks each node once for
/// all the shards it serves, not once per shard.
public distributed actor RetainerActor: UnorderedCallRecipient {
    public typealias ActorSystem = BrokerActorSystem

    static let path = ActorPath("/retainer")!

    private let stores: [RetainedStoreActor]

    init(stores: [RetainedStoreActor], actorSystem: ActorSystem) {
        self.actorSystem = actorSystem
        self.stores = stores
    }

    /// The retained messages matching `filter` in the listed shards of this node.
    public distributed func match(_ filter: TopicFilter, shards: [Int]) async -> [Message] {
        var all: [Message] = []
        for index in shards where stores.indices.contains(index) {
            all += (try? await stores[index].match(filter)) ?? []
        }
        return all
    }
}
