import ClusterTransport
import MQTTCore

/// What a session's primary sends its replica: a whole snapshot, the events after the last one sent, or the news
/// that the session ended. `sequence` is the session's event count after this update.
public struct ReplicaUpdate: Sendable, Codable {
    public enum Change: Sendable, Codable {
        case snapshot(SessionSnapshot)
        case events([SessionEvent])
        case drop
    }

    public var clientID: ClientID
    public var sequence: UInt64
    public var change: Change

    public init(clientID: ClientID, sequence: UInt64, change: Change) {
        self.clientID = clientID
        self.sequence = sequence
        self.change = change
    }
}

/// The session replicas one node holds for other nodes' sessions: a pure value type.
public struct ReplicaStore: Sendable {
    public struct Entry: Sendable {
        public var snapshot: SessionSnapshot
        public var sequence: UInt64
        /// The node (incarnation) whose session this copies.
        public var primary: NodeID
    }

    public private(set) var entries: [ClientID: Entry] = [:]

    public init() {}

    /// Applies updates from `primary` in order; returns the clients whose events did not follow what is held here
    /// (a gap, or no snapshot yet): their primary must send a snapshot.
    public mutating func apply(_ updates: [ReplicaUpdate], from primary: NodeID) -> [ClientID] {
        var resync: [ClientID] = []
        for update in updates {
            switch update.change {
            case .snapshot(let snapshot):
                guard snapshot.state.isConsistent, snapshot.state.clientID == update.clientID else { continue }
                entries[update.clientID] = Entry(snapshot: snapshot, sequence: update.sequence, primary: primary)
            case .events(let events):
                guard entries[update.clientID]?.primary == primary,
                    let sequence = entries[update.clientID]?.sequence, sequence + UInt64(events.count) == update.sequence
                else {
                    if !resync.contains(update.clientID) { resync.append(update.clientID) }
                    continue
                }
                // In place: a copy of the entry would copy the session's whole queue on every event.
                for event in events { entries[update.clientID]!.snapshot.apply(event) }
                entries[update.clientID]!.sequence = update.sequence
            case .drop:
                if entries[update.clientID]?.primary.name == primary.name { entries[update.clientID] = nil }
            }
        }
        return resync
    }

    /// Removes and returns the replicas of sessions whose primary was `node` (any incarnation).
    public mutating func takeAll(primary node: NodeName) -> [(ClientID, Entry)] {
        let taken = entries.filter { $0.value.primary.name == node }
        for key in taken.keys { entries[key] = nil }
        return taken.map { ($0.key, $0.value) }
    }

    /// Removes and returns one replica.
    public mutating func take(_ clientID: ClientID) -> Entry? {
        entries.removeValue(forKey: clientID)
    }

    public var count: Int { entries.count }
}
