import MQTTCore

/// A message on its way to one node's topic shards, with what that node delivers of it.
public struct RoutedMessage: Sendable, Hashable, Codable {
    public var message: Message
    public var selection: RouteSelection
    /// Set when redelivering after forwarding to a node failed: only the sessions promoted here from that node's
    /// replicas receive it.
    public var onlyAdoptedFrom: String?

    public init(message: Message, selection: RouteSelection = .everything, onlyAdoptedFrom: String? = nil) {
        self.message = message
        self.selection = selection
        self.onlyAdoptedFrom = onlyAdoptedFrom
    }
}

/// Routes messages through this node's topic shards: each message goes to the shard of its topic's first level,
/// the shards run in parallel, and the messages of one shard keep their order.
struct ShardRouter: Sendable {
    let shards: [TopicShardActor]

    /// The topic shard of a topic (or literal filter) whose first level is `level`.
    func shardIndex(forFirstLevel level: Substring) -> Int {
        StableHash.shard(of: level.utf8, count: shards.count)
    }

    func shardIndexes(for filter: TopicFilter) -> [Int] {
        guard let first = filter.literalFirstLevel else { return Array(shards.indices) }
        return [shardIndex(forFirstLevel: first)]
    }

    /// Returns, per item, how many local sessions it reached, once every one of them has accepted it.
    func route(_ items: [RoutedMessage]) async -> [Int] {
        var perShard: [Int: [(Int, RoutedMessage)]] = [:]
        for (position, item) in items.enumerated() {
            perShard[shardIndex(forFirstLevel: item.message.topic.firstLevel), default: []].append((position, item))
        }
        var counts = [Int](repeating: 0, count: items.count)
        if perShard.count == 1, let (shard, part) = perShard.first {
            // The common case (one message, or one publisher's topics in one shard): no child task.
            for (position, count) in await route(part, through: shards[shard]) { counts[position] = count }
            return counts
        }
        let results = await withTaskGroup(of: [(Int, Int)].self) { group in
            for (shard, part) in perShard {
                let actor = shards[shard]
                group.addTask { await route(part, through: actor) }
            }
            var all: [(Int, Int)] = []
            for await part in group { all += part }
            return all
        }
        for (position, count) in results { counts[position] = count }
        return counts
    }

    private func route(_ items: [(Int, RoutedMessage)], through shard: TopicShardActor) async -> [(Int, Int)] {
        let counts = (try? await shard.route(items.map(\.1))) ?? []
        return zip(items.map(\.0), counts).map { ($0, $1) }
    }
}
