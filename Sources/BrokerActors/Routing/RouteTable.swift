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
    struct GroupRoute: Sendable {
        var key: SharedGroupKey
        var nodes: [NodeName] = []
        var cursor = 0

        mutating func next() -> NodeName? {
            guard !nodes.isEmpty else { return nil }
            if cursor >= nodes.count { cursor = 0 }
            defer { cursor = cursor + 1 == nodes.count ? 0 : cursor + 1 }
            return nodes[cursor]
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

    /// Adds a route; returns false when the node already had it.
    @discardableResult
    public mutating func add(_ filter: TopicFilter, node: NodeName) -> Bool {
        guard filtersByNode[node, default: [:]].updateValue(filter, forKey: filter.rawValue) == nil else { return false }
        let index = trie.insert(filter.levels)
        trie.modify(index) { slot in
            if let key = SharedGroupKey(filter) {
                if let position = slot.groups.firstIndex(where: { $0.key == key }) {
                    if !slot.groups[position].nodes.contains(node) { slot.groups[position].nodes.append(node) }
                } else {
                    slot.groups.append(GroupRoute(key: key, nodes: [node]))
                }
            } else if !slot.direct.contains(node) {
                slot.direct.append(node)
            }
        }
        return true
    }

    /// Removes a route; returns false when the node did not have it.
    @discardableResult
    public mutating func remove(_ filter: TopicFilter, node: NodeName) -> Bool {
        guard filtersByNode[node]?.removeValue(forKey: filter.rawValue) != nil else { return false }
        if filtersByNode[node]?.isEmpty == true { filtersByNode[node] = nil }
        let levels = filter.levels
        guard let index = trie.find(levels) else { return true }
        // `$queue/a` and `$share/$queue/a` are one group: the node keeps it while it announces either.
        let stillInGroup = SharedGroupKey(filter).map { key in
            filtersByNode[node]?.values.contains { SharedGroupKey($0) == key } ?? false
        }
        let stillDirect = !filter.isShared
            && (filtersByNode[node]?.values.contains { !$0.isShared && $0.filter == filter.filter } ?? false)
        trie.modify(index) { slot in
            if let key = SharedGroupKey(filter) {
                guard stillInGroup != true, let position = slot.groups.firstIndex(where: { $0.key == key }) else { return }
                slot.groups[position].nodes.removeAll { $0 == node }
                if slot.groups[position].nodes.isEmpty { slot.groups.remove(at: position) }
            } else if !stillDirect {
                slot.direct.removeAll { $0 == node }
            }
        }
        trie.prune(levels)
        return true
    }

    /// Replaces every route of `node` (a full synchronisation).
    public mutating func replace(node: NodeName, with filters: [TopicFilter]) {
        let wanted = Dictionary(filters.map { ($0.rawValue, $0) }, uniquingKeysWith: { first, _ in first })
        let current = filtersByNode[node] ?? [:]
        for (raw, filter) in current where wanted[raw] == nil { remove(filter, node: node) }
        for (raw, filter) in wanted where current[raw] == nil { add(filter, node: node) }
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
