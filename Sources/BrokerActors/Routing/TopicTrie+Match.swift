import MQTTCore

extension TopicTrie {
    private struct Frame {
        var node: Index
        /// Where the next level of the topic starts.
        var start: String.Index
        /// True when every level of the topic has been consumed.
        var done: Bool
    }

    /// Calls `visit` with every node whose filter (the path from the root, `+` and `#` included) matches the topic,
    /// each exactly once, honouring the rule that a leading wildcard does not match a topic starting with `$`
    /// [MQTT-4.7.2-1].
    ///
    /// A depth-first walk that follows, for each level, the literal child, the `+` child and the `#` child, so it
    /// costs the nodes actually reached. Levels are read as slices of the topic (no array of levels, no `String`
    /// per level) and the walk's stack is a temporary allocation sized by the number of levels.
    func forEachFilter(matching topic: TopicName, _ visit: (Index) -> Void) {
        let text = topic.value
        let utf8 = text.utf8
        let slash = UInt8(ascii: "/")
        var levelCount = 1
        for byte in utf8 where byte == slash { levelCount += 1 }
        let isSystemTopic = utf8.first == UInt8(ascii: "$")

        // Each popped frame pushes at most two frames one level deeper, and a level's frames are all popped before
        // its parent level's next sibling: at most two pending frames per level.
        withUnsafeTemporaryAllocation(of: Frame.self, capacity: 2 * levelCount + 2) { stack in
            var top = 0
            func push(_ frame: Frame) {
                (stack.baseAddress! + top).initialize(to: frame)
                top += 1
            }
            push(Frame(node: Self.root, start: utf8.startIndex, done: false))
            while top > 0 {
                top -= 1
                let frame = stack[top]
                let index = Int(frame.node)
                let wildcardsAllowed = !(isSystemTopic && frame.node == Self.root)

                // `#` matches the remaining levels, and also the parent level alone (`a/#` matches `a`).
                let hash = nodes[index].hash
                if wildcardsAllowed, hash != Self.none { visit(hash) }
                if frame.done {
                    visit(frame.node)
                    continue
                }

                var end = frame.start
                while end != utf8.endIndex, utf8[end] != slash { utf8.formIndex(after: &end) }
                let next =
                    end == utf8.endIndex
                    ? Frame(node: Self.none, start: end, done: true)
                    : Frame(node: Self.none, start: utf8.index(after: end), done: false)

                let plus = nodes[index].plus
                if wildcardsAllowed, plus != Self.none {
                    push(Frame(node: plus, start: next.start, done: next.done))
                }
                if let child = nodes[index].children[UTF8Key(text[frame.start..<end])] {
                    push(Frame(node: child, start: next.start, done: next.done))
                }
            }
        }
    }

    /// Calls `visit` with every node holding a topic that the filter levels match (the trie holds topic names, so
    /// only `children` are used), honouring the `$` rule [MQTT-4.7.2-1]. Nodes are visited once each; the caller
    /// checks whether a visited node actually holds a value.
    func forEachTopic(matching filterLevels: [Substring], _ visit: (Index) -> Void) {
        var current: [Index] = [Self.root]
        var next: [Index] = []
        for (depth, level) in filterLevels.enumerated() {
            let key = UTF8Key(level)
            if key.isWildcardHash {
                // The parent level itself, then every descendant.
                var pending: [Index] = []
                for node in current {
                    visit(node)
                    for (childKey, child) in nodes[Int(node)].children where !(depth == 0 && childKey.isDollar) {
                        pending.append(child)
                    }
                }
                while let node = pending.popLast() {
                    visit(node)
                    pending.append(contentsOf: nodes[Int(node)].children.values)
                }
                return
            }
            next.removeAll(keepingCapacity: true)
            for node in current {
                if key.isWildcardPlus {
                    for (childKey, child) in nodes[Int(node)].children where !(depth == 0 && childKey.isDollar) {
                        next.append(child)
                    }
                } else if let child = nodes[Int(node)].children[key] {
                    next.append(child)
                }
            }
            if next.isEmpty { return }
            swap(&current, &next)
        }
        for node in current { visit(node) }
    }
}
