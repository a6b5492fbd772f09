/// What a trie node holds; a node whose value is empty and that has no children is pruned.
protocol TopicTrieValue: Sendable {
    init()
    var isEmpty: Bool { get }
}

/// A trie over topic levels, stored as an arena of nodes addressed by index so that a mutation touches one array
/// element in place (no copy-on-write of nested dictionaries) and a lookup never allocates.
///
/// A level `+` goes to the node's `plus` slot and `#` to its `hash` slot; every other level is a key of
/// `children`, compared byte for byte. Topic names never contain `+` or `#`, so a trie of topic names only uses
/// `children`. Node 0 is the root; since the root is never anybody's child, index 0 in a slot means "none".
struct TopicTrie<Value: TopicTrieValue>: Sendable {
    typealias Index = Int32

    struct Node: Sendable {
        var children: [UTF8Key: Index] = [:]
        var plus: Index = TopicTrie.none
        var hash: Index = TopicTrie.none
        var value = Value()

        var isPrunable: Bool { children.isEmpty && plus == TopicTrie.none && hash == TopicTrie.none && value.isEmpty }
    }

    static var root: Index { 0 }
    static var none: Index { 0 }

    /// Read access for traversals: `trie.nodes[Int(i)].children[...]` reads in place without copying the node.
    private(set) var nodes: [Node] = [Node()]
    private var free: [Index] = []

    init() {}

    /// Live nodes, including the root.
    var nodeCount: Int { nodes.count - free.count }

    /// The child reached by one literal level (never `+` or `#`), or nil.
    @inline(__always)
    func child(of node: Index, literal level: UTF8Key) -> Index? {
        nodes[Int(node)].children[level]
    }

    /// The child reached by one level, `+` and `#` included, or nil.
    func child(of node: Index, level: UTF8Key) -> Index? {
        let slot: Index
        if level.isWildcardPlus {
            slot = nodes[Int(node)].plus
        } else if level.isWildcardHash {
            slot = nodes[Int(node)].hash
        } else {
            return nodes[Int(node)].children[level]
        }
        return slot == Self.none ? nil : slot
    }

    /// The node at the end of the path, or nil when it does not exist.
    func find(_ levels: some Sequence<Substring>) -> Index? {
        var node = Self.root
        for level in levels {
            guard let next = child(of: node, level: UTF8Key(level)) else { return nil }
            node = next
        }
        return node
    }

    /// The node at the end of the path, created (with any missing ancestors) when needed.
    mutating func insert(_ levels: some Sequence<Substring>) -> Index {
        var node = Self.root
        for level in levels {
            let key = UTF8Key(level)
            if let next = child(of: node, level: key) {
                node = next
                continue
            }
            let next = allocate()
            if key.isWildcardPlus {
                nodes[Int(node)].plus = next
            } else if key.isWildcardHash {
                nodes[Int(node)].hash = next
            } else {
                nodes[Int(node)].children[key] = next
            }
            node = next
        }
        return node
    }

    /// Mutates a node's value in place.
    @inline(__always)
    mutating func modify<R>(_ node: Index, _ body: (inout Value) throws -> R) rethrows -> R {
        try body(&nodes[Int(node)].value)
    }

    /// Removes the nodes along the path that have become empty, from the leaf upwards.
    mutating func prune(_ levels: [Substring]) {
        var path: [(node: Index, key: UTF8Key)] = []
        path.reserveCapacity(levels.count)
        var node = Self.root
        for level in levels {
            let key = UTF8Key(level)
            guard let next = child(of: node, level: key) else { return }
            path.append((node, key))
            node = next
        }
        // `path[i].node` is the parent of the node reached by `path[i].key`.
        var current = node
        for (parent, key) in path.reversed() {
            guard nodes[Int(current)].isPrunable else { break }
            if key.isWildcardPlus {
                nodes[Int(parent)].plus = Self.none
            } else if key.isWildcardHash {
                nodes[Int(parent)].hash = Self.none
            } else {
                nodes[Int(parent)].children[key] = nil
            }
            release(current)
            current = parent
        }
        if nodes.count > 1, free.count == nodes.count - 1 {
            // Only the root is left: give the arena's memory back.
            nodes = [nodes[0]]
            free = []
        }
    }

    private mutating func allocate() -> Index {
        if let index = free.popLast() { return index }
        precondition(nodes.count < Int(Index.max), "topic trie full")
        nodes.append(Node())
        return Index(nodes.count - 1)
    }

    private mutating func release(_ node: Index) {
        nodes[Int(node)] = Node()
        free.append(node)
    }
}
