import MQTTCore
import Synchronization

/// The activation table of this node's sessions: client ID to `SessionActor`. Lookups are synchronous because a
/// topic shard resolves every matched subscriber through it. Guarded by a `Mutex`; the class is checked `Sendable`.
public final class SessionDirectory: Sendable {
    private let table = Mutex<[ClientID: SessionActor]>([:])
    /// Client IDs whose session has a connection attached right now (shared groups prefer them).
    private let online = Mutex<Set<ClientID>>([])

    public init() {}

    public func setOnline(_ clientID: ClientID, _ isOnline: Bool) {
        online.withLock { set in
            if isOnline { set.insert(clientID) } else { set.remove(clientID) }
        }
    }

    public func isOnline(_ clientID: ClientID) -> Bool { online.withLock { $0.contains(clientID) } }

    /// Clients with a session attached right now (`$SYS/…/clients/connected`).
    public var onlineCount: Int { online.withLock { $0.count } }

    public func session(for clientID: ClientID) -> SessionActor? {
        table.withLock { $0[clientID] }
    }

    public func register(_ session: SessionActor, for clientID: ClientID) {
        table.withLock { $0[clientID] = session }
    }

    /// Removes the entry only if it still maps to `session`; returns whether it did.
    @discardableResult
    public func remove(_ session: SessionActor, for clientID: ClientID) -> Bool {
        table.withLock { table in
            guard table[clientID]?.id == session.id else { return false }
            table[clientID] = nil
            return true
        }
    }

    public var count: Int { table.withLock { $0.count } }

    public var all: [(ClientID, SessionActor)] { table.withLock { $0.map { ($0.key, $0.value) } } }

    // MARK: Failover

    /// Client IDs of sessions promoted here from the replicas of a node that went down, by that node: a publisher
    /// whose forwarding to that node failed redelivers to exactly these.
    private let adopted = Mutex<[String: Set<ClientID>]>([:])

    public func markAdopted(_ clientID: ClientID, from node: String) {
        adopted.withLock { _ = $0[node, default: []].insert(clientID) }
    }

    public func wasAdopted(_ clientID: ClientID, from node: String) -> Bool {
        adopted.withLock { $0[node]?.contains(clientID) ?? false }
    }

    public func forgetAdopted(from node: String) {
        _ = adopted.withLock { $0.removeValue(forKey: node) }
    }
}

/// Serialises the CONNECT handling of one client ID (two connections racing for the same session), while
/// different client IDs proceed in parallel.
actor KeyedLock<Key: Hashable & Sendable> {
    private var held: Set<Key> = []
    private var waiters: [Key: [CheckedContinuation<Void, Never>]] = [:]

    func withLock<T: Sendable>(_ key: Key, _ body: @Sendable () async -> T) async -> T {
        await acquire(key)
        let result = await body()
        release(key)
        return result
    }

    private func acquire(_ key: Key) async {
        if held.insert(key).inserted { return }
        await withCheckedContinuation { waiters[key, default: []].append($0) }
    }

    private func release(_ key: Key) {
        if var queue = waiters[key], !queue.isEmpty {
            let next = queue.removeFirst()
            waiters[key] = queue.isEmpty ? nil : queue
            next.resume()  // ownership passes to the waiter; `held` keeps the key
        } else {
            held.remove(key)
        }
    }
}
