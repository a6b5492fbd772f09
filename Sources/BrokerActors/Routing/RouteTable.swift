import ClusterTransport
import MQTTCore

/// A shared subscription group as the whole cluster knows it: the group's name and the filter proper
/// (`$share/g/a/+` is `g` on `a/+`; `$queue/a` is `$queue` on `a`).
public struct SharedGroupKey: Sendable, Hashable, Codable, CustomStringConvertible {
    public var group: String
    public var filter: String

    public init(group: String, filter: String) {
        self.group = group
        self.filter = filter
    }

    public init?(_ filter: TopicFilter) {
        guard let group = filter.shareGroup else { return nil }
        self.init(group: group, filter: filter.filter)
    }

    public var description: String { "\(group) on \(filter)" }
}

/// What one node is asked to deliver for one message: its non-shared subscribers (`direct`) and the shared groups
/// for which it was picked. Nil `groups` means every matching group (a node routing its own messages alone).
public struct RouteSelection: Sendable, Hashable, Codable {
    public var direct: Bool
    public var groups: Set<SharedGroupKey>?

    public init(direct: Bool, groups: Set<SharedGroupKey>?) {
        self.direct = direct
        self.groups = groups
    }

    /// Every local subscriber: the selection of a node with no cluster routes.
    public static let everything = RouteSelection(direct: true, groups: nil)

    func includes(_ key: SharedGroupKey) -> Bool { groups?.contains(key) ?? true }
}

/// The cluster route table: for each topic filter, the nodes that have subscribers for it.
///
/// A pure value type. Each node announces the distinct filters its sessions subscribe to; this table holds every
/// node's set (the local node's included) in a topic trie, so matching a published topic visits only the branches
/// it can reach. Non-shared filters route to every node that has them; a shared group (`$share/g/f`) routes to one
/// of the nodes with members, round-robin, so that the group gets each message once across the whole cluster.
public struct RouteTable: Sendable {
    /// A shared group's nodes, each weighted by its number of members, picked by smooth weighted round-robin:
    /// over any run of `sum(weights)` messages each node gets exactly its weight, interleaved, so the group's
    /// members share the messages evenly across the cluster whatever node they are on.
    struct GroupRoute: Sendable {
        var key: SharedGroupKey
        var nodes: [NodeName] = []
        var weights: [Int] = []
        var current: [Int] = []

        /// Sets a node's weight. Any change starts a new cycle (the smoothing state restarts), so the shares are
        /// exact again from the next message on.
        mutating func set(_ node: NodeName, weight: Int) {
            if let index = nodes.firstIndex(of: node) {
                guard weights[index] != weight else { return }
                weights[index] = weight
            } else {
                nodes.append(node)
                weights.append(weight)
                current.append(0)
            }
            restartCycle()
        }

        mutating func remove(_ node: NodeName) {
            guard let index = nodes.firstIndex(of: node) else { return }
            nodes.remove(at: index)
            weights.remove(at: index)
            current.remove(at: index)
            restartCycle()
        }

        private mutating func restartCycle() {
            for index in current.indices { current[index] = 0 }
        }

        mutating func next() -> NodeName? {
            guard !nodes.isEmpty else { return nil }
            let total = weights.reduce(0, +)
            var best = 0
            for index in nodes.indices {
                current[index] += weights[index]
                if current[index] > current[best] { best = index }
            }
            current[best] -= total
            return nodes[best]
        }
    }

    struct Slot: TopicTrieValue {
        /// Nodes with non-shared subscribers of this filter (few: a linear array).
        var direct: [NodeName] = []
        var groups: [GroupRoute] = []
        init() {}
        var isEmpty: Bool { direct.isEmpty && groups.isEmpty }
    }

    var trie = TopicTrie<Slot>()
    /// Each node's announced filters, by raw text.
    private(set) var filtersByNode: [NodeName: [String: TopicFilter]] = [:]
    /// For shared filters: how many members each node has (its weight in the group).
    private var membersByNode: [NodeName: [String: Int]] = [:]

    public init() {}

    /// The nodes with at least one route.
    public var nodes: Set<NodeName> { Set(filtersByNode.keys) }

    /// All routes as (raw filter, node) pairs, sorted (for the HTTP API and tests).
    public var routes: [(filter: String, node: NodeName)] {
        filtersByNode.flatMap { node, filters in filters.keys.map { (filter: $0, node: node) } }
            .sorted { ($0.filter, $0.node) < ($1.filter, $1.node) }
    }

    public func filters(of node: NodeName) -> [TopicFilter] {
        (filtersByNode[node] ?? [:]).values.sorted { $0.rawValue < $1.rawValue }
    }

    /// Adds a route; returns false when the node already had it. For a shared filter, `members` is how many of
    /// the node's sessions belong to the group through it; announcing it again with another count updates the
    /// node's weight (and still returns false).
    @discardableResult
    public mutating func add(_ filter: TopicFilter, node: NodeName, members: Int = 1) -> Bool {
        let isNew = filtersByNode[node, default: [:]].updateValue(filter, forKey: filter.rawValue) == nil
        if filter.isShared { membersByNode[node, default: [:]][filter.rawValue] = max(1, members) }
        let index = trie.insert(filter.levels)
        let weight = SharedGroupKey(filter).map { groupWeight(of: node, in: $0) } ?? 0
        trie.modify(index) { slot in
            if let key = SharedGroupKey(filter) {
                if let position = slot.groups.firstIndex(where: { $0.key == key }) {
                    slot.groups[position].set(node, weight: weight)
                } else {
                    var group = GroupRoute(key: key)
                    group.set(node, weight: weight)
                    slot.groups.append(group)
                }
            } else if !slot.direct.contains(node) {
                slot.direct.append(node)
            }
        }
        return isNew
    }

    /// A node's members of a group: the sum over its raw filters of that group (`$queue/a` and `$share/$queue/a`
    /// are one group).
    private func groupWeight(of node: NodeName, in key: SharedGroupKey) -> Int {
        guard let filters = filtersByNode[node] else { return 0 }
        return filters.values.filter { SharedGroupKey($0) == key }
            .reduce(0) { $0 + (membersByNode[node]?[$1.rawValue] ?? 1) }
    }

    /// Removes a route; returns false when the node did not have it.
    @discardableResult
    public mutating func remove(_ filter: TopicFilter, node: NodeName) -> Bool {
        guard filtersByNode[node]?.removeValue(forKey: filter.rawValue) != nil else { return false }
        membersByNode[node]?[filter.rawValue] = nil
        if filtersByNode[node]?.isEmpty == true {
            filtersByNode[node] = nil
            membersByNode[node] = nil
        }
        let levels = filter.levels
        guard let index = trie.find(levels) else { return true }
        let remaining = SharedGroupKey(filter).map { groupWeight(of: node, in: $0) } ?? 0
        trie.modify(index) { slot in
            if let key = SharedGroupKey(filter) {
                guard let position = slot.groups.firstIndex(where: { $0.key == key }) else { return }
                if remaining > 0 {
                    slot.groups[position].set(node, weight: remaining)
                } else {
                    slot.groups[position].remove(node)
                    if slot.groups[position].nodes.isEmpty { slot.groups.remove(at: position) }
                }
            } else {
                slot.direct.removeAll { $0 == node }
            }
        }
        trie.prune(levels)
        return true
    }

    /// Replaces every route of `node` (a full synchronisation); `members` gives shared filters' member counts.
    public mutating func replace(node: NodeName, with filters: [TopicFilter], members: [String: Int] = [:]) {
        let wanted = Dictionary(filters.map { ($0.rawValue, $0) }, uniquingKeysWith: { first, _ in first })
        let current = filtersByNode[node] ?? [:]
        for (raw, filter) in current where wanted[raw] == nil { remove(filter, node: node) }
        for (raw, filter) in wanted where current[raw] == nil || filter.isShared {
            add(filter, node: node, members: members[raw] ?? 1)
        }
    }

    /// Forgets every route of `node` (it is down or gone).
    public mutating func drop(node: NodeName) {
        replace(node: node, with: [])
    }

    /// The nodes a message published to `topic` must go to, each with what it delivers. Every node with a
    /// matching non-shared filter gets `direct`; each matching shared group picks one node with members in turn
    /// (round-robin, so mutating).
    public mutating func match(_ topic: TopicName) -> [NodeName: RouteSelection] {
        var directSlots: [TopicTrie<Slot>.Index] = []
        var groupSlots: [TopicTrie<Slot>.Index] = []
        trie.forEachFilter(matching: topic) { index in
            let slot = trie.nodes[Int(index)].value
            if !slot.direct.isEmpty { directSlots.append(index) }
            if !slot.groups.isEmpty { groupSlots.append(index) }
        }
        var result: [NodeName: RouteSelection] = [:]
        for index in directSlots {
            for node in trie.nodes[Int(index)].value.direct {
                result[node, default: RouteSelection(direct: true, groups: [])].direct = true
            }
        }
        for index in groupSlots {
            trie.modify(index) { slot in
                for position in slot.groups.indices {
                    guard let node = slot.groups[position].next() else { continue }
                    result[node, default: RouteSelection(direct: false, groups: [])].groups?.insert(slot.groups[position].key)
                }
            }
        }
        return result
    }
}
