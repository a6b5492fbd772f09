import ClusterTransport
import Distributed
import MQTTCore

/// One shard of the retained messages: a topic's retained message lives in shard `hash(topic) % R`. Every node
/// has an actor per shard (`/retained/<i>`), but the shard's data lives on the first two nodes of the preference
/// list of `retained/<i>`: the primary, which serves reads and accepts writes, and the replica, which every write
/// reaches before it is acknowledged. Writes carry a `RetainedVersion` and merge last-writer-wins, so copies that
/// diverged (a partition, a failover) converge when they are merged.
public distributed actor RetainedStoreActor {
    public typealias ActorSystem = BrokerActorSystem

    public let index: Int
    private var shard = RetainedShard()
    private let clock: any BrokerClock
    private let store: DurableStore?

    public init(index: Int, clock: any BrokerClock, store: DurableStore? = nil, actorSystem: ActorSystem) {
        self.actorSystem = actorSystem
        self.index = index
        self.clock = clock
        self.store = store
    }

    static func path(_ index: Int) -> ActorPath { ActorPath("/retained/\(index)")! }

    /// The ownership key of shard `index`.
    static func key(_ index: Int) -> String { "retained/\(index)" }

    /// Stores (or, with an empty payload, clears) the retained message of its topic, stamped here, and copies the
    /// write to the shard's other owner before returning.
    public distributed func set(_ message: Message) async {
        let record = shard.accept(message, now: clock.now(), node: actorSystem.node.name.rawValue)
        store?.append(.retained(shard: index, record))
        await copyToOtherOwners([record])
    }

    /// Writes from another store; each applies when newer than what is here.
    public distributed func merge(_ records: [RetainedRecord]) {
        for record in records where shard.merge(record) { store?.append(.retained(shard: index, record)) }
    }

    /// Everything held here, for a compaction of the data directory.
    func durableRecords() -> [DurableRecord] {
        shard.records.map { .retained(shard: index, $0) }
    }

    public distributed func match(_ filter: TopicFilter) -> [Message] {
        shard.match(filter, now: clock.now())
    }

    public distributed func count() -> Int { shard.count }

    public distributed func removeExpired() -> Int { shard.removeExpired(now: clock.now()) }

    /// After a membership change: copies everything held here to the shard's current owners (other than this
    /// node). A node that is no longer an owner then drops its copy.
    public distributed func rebalance() async {
        guard !shard.isEmpty else { return }
        let owners = Ownership.preferenceList(
            for: Self.key(index), among: actorSystem.ownershipCandidates
        ).prefix(2)
        let copied = await copyToOtherOwners(shard.records)
        // Stored elsewhere now. A copy left in this node's data directory is harmless: after a restart it is
        // merged into the owners again, where a newer write wins.
        if copied, !owners.isEmpty, !owners.contains(actorSystem.node.name) { shard.removeAll() }
    }

    /// Sends records to the shard's primary and replica other than this node; returns whether all accepted them.
    @discardableResult
    private func copyToOtherOwners(_ records: [RetainedRecord]) async -> Bool {
        let system = actorSystem
        let owners = Ownership.preferenceList(for: Self.key(index), among: system.ownershipCandidates)
            .prefix(2).filter { $0 != system.node.name }
        var allAccepted = true
        for owner in owners {
            do {
                try await system.wellKnown(RetainedStoreActor.self, path: Self.path(index), on: owner).merge(records)
            } catch {
                allAccepted = false
            }
        }
        return allAccepted
    }
}
