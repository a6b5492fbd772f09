import Distributed

/// The local actors of one system: every ready actor weakly, and the retained ones (well-known and keyed
/// activations) strongly as well.
struct ActorRegistry {
    private struct WeakActor {
        weak var actor: (any DistributedActor)?
    }

    private var all: [ClusterActorID: WeakActor] = [:]
    private var retained: [ClusterActorID: any DistributedActor] = [:]

    mutating func ready<Act: DistributedActor>(_ actor: Act) where Act.ID == ClusterActorID {
        all[actor.id] = WeakActor(actor: actor)
    }

    mutating func resign(_ id: ClusterActorID) {
        all[id] = nil
    }

    mutating func retain(_ actor: any DistributedActor, as id: ClusterActorID) {
        retained[id] = actor
    }

    mutating func release(_ id: ClusterActorID) -> (any DistributedActor)? {
        retained.removeValue(forKey: id)
    }

    func find(_ id: ClusterActorID) -> (any DistributedActor)? {
        retained[id] ?? all[id]?.actor
    }

    var count: Int { all.count }
}
