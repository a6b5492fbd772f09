import Distributed

/// The actor system the broker's distributed actors run on. Until the cluster transport exists this is the
/// in-process system; switching to `ClusterSystem` is a change of this one line.
public typealias BrokerActorSystem = LocalTestingDistributedActorSystem

public typealias DefaultDistributedActorSystem = BrokerActorSystem
