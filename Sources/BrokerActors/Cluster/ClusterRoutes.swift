import ClusterTransport
import MQTTCore
import Synchronization

/// One change of a node's announced filters.
public struct RouteChange: Sendable, Hashable, Codable {
    public var filter: String
    public var added: Bool
    /// For a shared filter that is added: the node's member count (its weight in the group).
    public var members: Int

    public init(filter: String, added: Bool, members: Int = 1) {
        self.filter = filter
        self.added = added
        self.members = members
    }
}

/// This node's view of the cluster's routes: the `RouteTable`, this node's own filters counted by use, the
/// numbered log of this node's changes (what `RouteAnnouncer` ships to the other nodes) and, per other node, the
/// incarnation and version of its routes applied here.
///
/// Reads are synchronous because every publish matches against it; guarded by a `Mutex`.
public final class ClusterRoutes: Sendable {
    private struct Applied {
        var incarnation: Incarnation
        var version: UInt64
    }

    private struct State {
        var table = RouteTable()
        /// Local sessions per raw filter.
        var localUses: [String: Int] = [:]
        /// Changes of the local filters, numbered from `logStart + 1` to `version`.
        var log: [RouteChange] = []
        var logStart: UInt64 = 0
        var version: UInt64 = 0
        var applied: [NodeName: Applied] = [:]
    }

    public let local: NodeName
    private let state = Mutex(State())

    public init(local: NodeName) { self.local = local }

    // MARK: Local filters

    /// A local session subscribed to `filter`. Returns the version to announce when the node did not have the
    /// filter before, and for a shared filter on every change (its member count weighs the node in the group).
    public func subscribeLocal(_ filter: TopicFilter) -> UInt64? {
        state.withLock { s in
            s.localUses[filter.rawValue, default: 0] += 1
            let uses = s.localUses[filter.rawValue]!
            guard uses == 1 || filter.isShared else { return nil }
            s.table.add(filter, node: local, members: uses)
            return Self.append(RouteChange(filter: filter.rawValue, added: true, members: uses), to: &s)
        }
    }

    /// A local session's subscription to `filter` ended. Returns the version to announce when it was the last one,
    /// and for a shared filter on every change.
    public func unsubscribeLocal(_ filter: TopicFilter) -> UInt64? {
        state.withLock { s in
            guard let uses = s.localUses[filter.rawValue] else { return nil }
            guard uses == 1 else {
                s.localUses[filter.rawValue] = uses - 1
                guard filter.isShared else { return nil }
                s.table.add(filter, node: local, members: uses - 1)
                return Self.append(RouteChange(filter: filter.rawValue, added: true, members: uses - 1), to: &s)
            }
            s.localUses[filter.rawValue] = nil
            s.table.remove(filter, node: local)
            return Self.append(RouteChange(filter: filter.rawValue, added: false), to: &s)
        }
    }

    private static func append(_ change: RouteChange, to s: inout State) -> UInt64 {
        s.log.append(change)
        s.version += 1
        return s.version
    }

    /// The version of the local filters (the number of changes so far).
    public var version: UInt64 { state.withLock { $0.version } }

    /// The local filters and the version they are at (a full synchronisation).
    public func localSnapshot() -> (filters: [String], version: UInt64) {
        state.withLock { s in (s.localUses.keys.sorted(), s.version) }
    }

    /// The member counts of the local shared filters (their weights in their groups).
    public func localMembers() -> [String: Int] {
        state.withLock { s in
            s.localUses.filter { $0.key.hasPrefix("$share/") || $0.key.hasPrefix("$queue/") }
        }
    }

    /// The changes after `version`, or nil when the log no longer reaches back that far (a full synchronisation is
    /// needed then).
    public func changes(after version: UInt64) -> (changes: [RouteChange], upTo: UInt64)? {
        state.withLock { s in
            guard version >= s.logStart, version <= s.version else { return nil }
            let from = Int(version - s.logStart)
            return (Array(s.log[from...]), s.version)
        }
    }

    /// Forgets the changes up to `version` (every peer has them).
    public func trimLog(upTo version: UInt64) {
        state.withLock { s in
            guard version > s.logStart else { return }
            let upTo = min(version, s.version)
            s.log.removeFirst(Int(upTo - s.logStart))
            s.logStart = upTo
        }
    }

    // MARK: Other nodes' routes

    /// Applies changes a node sent, which follow its version `base`. Returns false, changing nothing, when they do
    /// not follow what was applied here (another incarnation, or a gap): the sender then synchronises fully.
    public func apply(from node: NodeID, base: UInt64, changes: [RouteChange]) -> Bool {
        guard node.name != local else { return true }
        return state.withLock { s in
            guard let applied = s.applied[node.name], applied.incarnation == node.incarnation, applied.version == base
            else { return false }
            for change in changes {
                guard let filter = try? TopicFilter(validating: change.filter) else { continue }
                if change.added {
                    s.table.add(filter, node: node.name, members: change.members)
                } else {
                    s.table.remove(filter, node: node.name)
                }
            }
            s.applied[node.name] = Applied(incarnation: node.incarnation, version: base + UInt64(changes.count))
            return true
        }
    }

    /// Replaces every route of a node with its full filter list at `version`. An older incarnation than the one
    /// applied is ignored.
    public func synchronise(from node: NodeID, version: UInt64, filters: [String], members: [String: Int] = [:]) {
        guard node.name != local else { return }
        let parsed = filters.compactMap { try? TopicFilter(validating: $0) }
        state.withLock { s in
            if let applied = s.applied[node.name], applied.incarnation > node.incarnation { return }
            s.table.replace(node: node.name, with: parsed, members: members)
            s.applied[node.name] = Applied(incarnation: node.incarnation, version: version)
        }
    }

    /// Forgets a node's routes (it is down, or restarted as a new incarnation).
    public func drop(node name: NodeName) {
        guard name != local else { return }
        state.withLock { s in
            s.table.drop(node: name)
            s.applied[name] = nil
        }
    }

    // MARK: Matching

    /// Whether any other node has routes (when none has, a publish needs no table lookup).
    public var hasRemoteRoutes: Bool {
        state.withLock { s in
            let nodes = s.table.filtersByNode
            return nodes.count > (nodes[local] == nil ? 0 : 1)
        }
    }

    /// Where a message to `topic` goes, per node (this one included).
    public func match(_ topic: TopicName) -> [NodeName: RouteSelection] {
        state.withLock { $0.table.match(topic) }
    }

    /// Every route, as (raw filter, node), sorted.
    public var routes: [(filter: String, node: NodeName)] { state.withLock { $0.table.routes } }
}
