import ClusterTransport
import Distributed

/// The actor system the broker's distributed actors run on: the cluster's `ClusterSystem` (standalone, with no
/// cluster listener, when the node has no cookie). Calls between actors of one node stay local calls.
public typealias BrokerActorSystem = ClusterSystem

public typealias DefaultDistributedActorSystem = BrokerActorSystem
