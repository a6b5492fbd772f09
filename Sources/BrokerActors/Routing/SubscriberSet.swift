import MQTTCore

/// The subscribers of one topic filter: the value of a node in the subscription trie.
struct SubscriberSet: TopicTrieValue {
    struct Entry: Sendable, Hashable {
        var options: MQTTPacket.SubscriptionOptions
        var identifier: UInt32?
    }

    /// Non-shared subscriptions. A client has at most one per node, since a non-shared filter's raw text is the
    /// path of the node.
    var direct: [ClientID: Entry] = [:]
    /// The shared groups on this filter (`$share/<group>/…`, `$queue/…`); usually none or a few.
    var groups: [SharedGroup] = []

    init() {}

    var isEmpty: Bool { direct.isEmpty && groups.isEmpty }

    mutating func addShared(group: UTF8Key, filter: String, member: SharedGroup.Member) {
        if let index = groups.firstIndex(where: { $0.name == group }) {
            groups[index].upsert(member)
        } else {
            var new = SharedGroup(name: group, key: SharedGroupKey(group: String(group.text), filter: filter))
            new.upsert(member)
            groups.append(new)
        }
    }

    @discardableResult
    mutating func removeShared(group: UTF8Key, clientID: ClientID, rawFilter: UTF8Key) -> Bool {
        guard let index = groups.firstIndex(where: { $0.name == group }) else { return false }
        let removed = groups[index].remove(clientID: clientID, rawFilter: rawFilter)
        if groups[index].members.isEmpty { groups.remove(at: index) }
        return removed
    }
}

/// The members of one shared subscription group on one filter. Each message that matches goes to exactly one
/// member, chosen round-robin [MQTT-4.8.2].
struct SharedGroup: Sendable {
    struct Member: Sendable, Hashable {
        var clientID: ClientID
        /// The filter as subscribed (`$queue/a` and `$share/$queue/a` are the same group but two subscriptions).
        var rawFilter: UTF8Key
        var entry: SubscriberSet.Entry
    }

    let name: UTF8Key
    /// The group as the cluster's route table names it.
    let key: SharedGroupKey
    private(set) var members: [Member] = []
    /// The position of the member that receives the next message.
    private(set) var cursor = 0

    init(name: UTF8Key, key: SharedGroupKey) {
        self.name = name
        self.key = key
    }

    /// Adds the member, or replaces the options of the same (client, filter) in place, keeping its turn.
    mutating func upsert(_ member: Member) {
        if let index = members.firstIndex(where: { $0.clientID == member.clientID && $0.rawFilter == member.rawFilter })
        {
            members[index] = member
        } else {
            members.append(member)
        }
    }

    mutating func remove(clientID: ClientID, rawFilter: UTF8Key) -> Bool {
        guard let index = members.firstIndex(where: { $0.clientID == clientID && $0.rawFilter == rawFilter }) else {
            return false
        }
        members.remove(at: index)
        // Keep the turn with the member that had it (or the one after a removed member).
        if index < cursor { cursor -= 1 }
        if cursor >= members.count { cursor = 0 }
        return true
    }

    /// The member whose turn it is; advances the turn. With `isOnline`, the first member from the turn on whose
    /// client is online gets it (offline members' queues would only hold the message back); when none is online,
    /// plain round-robin.
    mutating func next(preferring isOnline: ((ClientID) -> Bool)? = nil) -> Member? {
        guard !members.isEmpty else { return nil }
        var chosen = cursor
        if let isOnline {
            for step in 0..<members.count {
                let index = (cursor + step) % members.count
                if isOnline(members[index].clientID) {
                    chosen = index
                    break
                }
            }
        }
        cursor = chosen + 1 == members.count ? 0 : chosen + 1
        return members[chosen]
    }
}
