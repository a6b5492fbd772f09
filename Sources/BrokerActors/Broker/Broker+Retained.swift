import ClusterTransport
import Distributed
import MQTTCore

extension Broker {
    /// The shard of `topic`'s retained message.
    func retainedShard(of topic: TopicName) -> Int {
        StableHash.shard(of: topic.value.utf8, count: retained.count)
    }

    /// The nodes that hold retained shard `index`: its primary, then its replica (this node alone when standalone).
    func retainedOwners(_ index: Int) -> [NodeName] {
        guard actorSystem.settings.listens else { return [actorSystem.node.name] }
        let owners = Ownership.preferenceList(
            for: RetainedStoreActor.key(index), among: actorSystem.ownershipCandidates)
        return owners.isEmpty ? [actorSystem.node.name] : Array(owners.prefix(2))
    }

    /// Sets (or clears) a retained message on its shard's primary, or on the replica when the primary cannot be
    /// reached; the store that takes it copies it to the other owner before this returns.
    func setRetained(_ message: Message) async {
        let index = retainedShard(of: message.topic)
        for owner in retainedOwners(index) {
            do {
                try await retainedStore(index, on: owner).set(message)
                return
            } catch {
                logger.warning("retained store unreachable", metadata: ["cluster/peer": "\(owner)", "error": "\(error)"])
            }
        }
    }

    /// The retained messages matching `filter`: one shard for a topic without wildcards, else every shard, with
    /// one call per node that serves some of them.
    func retainedMatching(_ filter: TopicFilter) async -> [Message] {
        if !filter.hasWildcards, let topic = try? TopicName(validating: filter.filter) {
            let index = retainedShard(of: topic)
            for owner in retainedOwners(index) {
                if let messages = try? await retainedStore(index, on: owner).match(filter) { return messages }
            }
            return []
        }
        var byNode: [NodeName: [Int]] = [:]
        for index in retained.indices { byNode[retainedOwners(index)[0], default: []].append(index) }
        return await withTaskGroup(of: [Message].self) { group in
            for (node, shards) in byNode {
                group.addTask { await self.retainedMatching(filter, shards: shards, on: node) }
            }
            var all: [Message] = []
            for await part in group { all += part }
            return all
        }
    }

    private func retainedMatching(_ filter: TopicFilter, shards: [Int], on node: NodeName) async -> [Message] {
        do {
            return try await actorSystem.wellKnown(RetainerActor.self, path: RetainerActor.path, on: node)
                .match(filter, shards: shards)
        } catch {
            // The primary is unreachable: ask each shard's replica.
            var all: [Message] = []
            for index in shards {
                guard let replica = retainedOwners(index).dropFirst().first else { continue }
                all += (try? await retainedStore(index, on: replica).match(filter)) ?? []
            }
            return all
        }
    }

    private func retainedStore(_ index: Int, on node: NodeName) throws -> RetainedStoreActor {
        if node == actorSystem.node.name { return retained[index] }
        return try actorSystem.wellKnown(RetainedStoreActor.self, path: RetainedStoreActor.path(index), on: node)
    }

    /// After a membership change, each local shard copies what it holds to the shard's current owners.
    func rebalanceRetained() async {
        for store in retained { try? await store.rebalance() }
    }
}
