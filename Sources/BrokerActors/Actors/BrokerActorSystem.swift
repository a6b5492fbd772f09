import Distributed

/// The actor system the broker's distributed actors run on. Until the cluster transport exists this is the
/// in-process `LocalActorSystem`; switching to `ClusterSystem` is a change of this one line.
public typealias BrokerActorSystem = LocalActorSystem

public typealias DefaultDistributedActorSystem = BrokerActorSystem
