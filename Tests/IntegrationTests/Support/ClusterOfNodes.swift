import Foundation
import MQTTCore
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `count` `Node` processes on 127.0.0.1 forming one cluster: node K is named `nK@127.0.0.1`, has its own cluster
/// port, and every node shares one cookie. Node 1 starts with no seed (it is up at once); the others seed from node
/// 1. `start` returns once every node's log shows every other node's current incarnation `up`.
///
/// A node can be SIGKILLed and restarted with the same name and cluster port (a new incarnation); `NodeProcess` picks
/// fresh MQTT and WebSocket ports for the restarted process, so reconnect clients through `nodes[index]` afterwards.
final class ClusterOfNodes: Sendable {
    static let cookie = String(repeating: "cross-node-cluster-cookie-", count: 2)

    let names: [String]
    let clusterPorts: [Int]
    let extraArguments: [String]
    private let processes: Mutex<[NodeProcess]>
    /// Indexes of nodes killed on purpose (and not restarted since): not expected to be running.
    private let killed = Mutex(Set<Int>())

    enum Failure: Error, CustomStringConvertible {
        case noIncarnation(node: String, log: String)
        var description: String {
            switch self {
            case .noIncarnation(let node, let log): "\(node) logged no 'cluster listener up' line; log:\n\(log)"
            }
        }
    }

    private init(names: [String], clusterPorts: [Int], extraArguments: [String], processes: [NodeProcess]) {
        self.names = names
        self.clusterPorts = clusterPorts
        self.extraArguments = extraArguments
        self.processes = Mutex(processes)
    }

    /// The node processes, in order (index 0 is `n1`). A restarted node's entry is its new process.
    var nodes: [NodeProcess] { processes.withLock { $0 } }

    subscript(index: Int) -> NodeProcess { processes.withLock { $0[index] } }

    /// Starts `count` nodes and waits (at most `within`) until each sees every other one up. Stops every node it
    /// started when that fails.
    /// `perNode[i]` adds flags to node `i` only (for example its `--weight`); a restarted node does not get them.
    static func start(
        count: Int = 3, extraArguments: [String] = [], perNode: [[String]] = [], within timeout: Duration = .seconds(30)
    ) async throws -> ClusterOfNodes {
        precondition(count >= 1)
        let names = (1...count).map { "n\($0)@127.0.0.1" }
        let ports = try (0..<count).map { _ in try PortAllocator.shared.next() }
        var started: [NodeProcess] = []
        do {
            for index in 0..<count {
                let seeds = index == 0 ? [] : [ports[0]]
                let own = perNode.indices.contains(index) ? perNode[index] : []
                started.append(try await NodeProcess.start(
                    arguments(name: names[index], port: ports[index], seeds: seeds, extra: extraArguments + own)))
            }
            let cluster = ClusterOfNodes(names: names, clusterPorts: ports, extraArguments: extraArguments, processes: started)
            try await cluster.waitUntilFormed(within: timeout)
            return cluster
        } catch {
            for node in started {
                print("--- \(node.logPath) (tail) after \(error) ---\n\(node.logTail())")
            }
            await stop(started)
            throw error
        }
    }

    /// A node's flags; `{name}` in an extra argument becomes the node's short name (`n1`), for per-node paths.
    private static func arguments(name: String, port: Int, seeds: [Int], extra: [String]) -> [String] {
        let short = String(name.prefix { $0 != "@" })
        return ["--name", name, "--cluster-port", String(port), "--cookie", cookie, "--dev"]
            + seeds.flatMap { ["--seed", "127.0.0.1:\($0)"] } + extra.map { $0.replacingOccurrences(of: "{name}", with: short) }
    }

    // MARK: Membership in the logs

    /// The incarnation `node` logged when its cluster listener came up (`cluster/incarnation=<n>`).
    static func incarnation(of node: NodeProcess) -> String? {
        for line in node.log.split(separator: "\n") where line.contains("cluster listener up") {
            guard let range = line.range(of: "cluster/incarnation=") else { continue }
            let digits = line[range.upperBound...].prefix { $0.isNumber }
            if !digits.isEmpty { return String(digits) }
        }
        return nil
    }

    /// Whether `observer`'s log has a membership line saying `member` (`name#incarnation`) has `status`.
    static func logShows(_ observer: NodeProcess, member: String, status: String) -> Bool {
        observer.log.split(separator: "\n").contains { line in
            line.contains("member changed") && line.contains("cluster/member=\(member) ")
                && line.contains("cluster/status=\(status) ")
        }
    }

    /// `name#incarnation` of node `index`'s current process.
    func memberID(_ index: Int) throws -> String {
        let node = self[index]
        guard let incarnation = Self.incarnation(of: node) else {
            throw Failure.noIncarnation(node: names[index], log: node.logTail())
        }
        return "\(names[index])#\(incarnation)"
    }

    /// Waits until every running node's log shows every other running node's current incarnation up.
    func waitUntilFormed(within timeout: Duration = .seconds(30)) async throws {
        let live = (0..<names.count).filter { !isKilled($0) }
        let ids = try Dictionary(uniqueKeysWithValues: live.map { ($0, try memberID($0)) })
        try await waitUntil("every node to see every other one up", within: timeout, every: .milliseconds(50)) {
            live.allSatisfy { observer in
                live.allSatisfy { member in
                    member == observer || Self.logShows(self[observer], member: ids[member]!, status: "up")
                }
            }
        }
    }

    /// Waits until every other running node's log shows node `index`'s current incarnation with `status`.
    func waitUntilOthersSee(_ index: Int, _ status: String, within timeout: Duration = .seconds(20)) async throws {
        let id = try memberID(index)
        let observers = (0..<names.count).filter { $0 != index && !isKilled($0) }
        try await waitUntil("\(id) \(status) on every other node", within: timeout, every: .milliseconds(50)) {
            observers.allSatisfy { Self.logShows(self[$0], member: id, status: status) }
        }
    }

    // MARK: Failures and restarts

    /// Whether node `index` was killed by the test and not restarted since.
    func isKilled(_ index: Int) -> Bool { killed.withLock { $0.contains(index) } }

    /// SIGKILLs node `index` and waits for the process to exit (its peers are not waited for; see
    /// `waitUntilOthersSee(index, "down")`).
    /// Stops node `index` gracefully (SIGTERM: it drains, then leaves the cluster) and waits up to `timeout` for it
    /// to exit; returns its exit status, or nil when it had to be killed.
    func terminate(_ index: Int, within timeout: Duration = .seconds(20)) async -> Int32? {
        let node = self[index]
        killed.withLock { _ = $0.insert(index) }
        node.kill(SIGTERM)
        let deadline = ContinuousClock.now + timeout
        while node.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        guard !node.isRunning else {
            await node.stop()
            return nil
        }
        return node.terminationStatus
    }

    func kill(_ index: Int) async {
        let node = self[index]
        killed.withLock { _ = $0.insert(index) }
        node.kill(SIGKILL)
        await node.stop()  // SIGTERM/SIGKILL to a dead process is a no-op; this reaps it
    }

    /// Starts node `index` again with the same name, cluster port and flags, seeded by every other node, and waits
    /// until the new incarnation and the running nodes see each other up.
    func restart(_ index: Int, within timeout: Duration = .seconds(30)) async throws {
        let old = self[index]
        if old.isRunning { await kill(index) }
        let seeds = clusterPorts.indices.filter { $0 != index }.map { clusterPorts[$0] }
        let node = try await NodeProcess.start(
            Self.arguments(name: names[index], port: clusterPorts[index], seeds: seeds, extra: extraArguments))
        processes.withLock { $0[index] = node }
        killed.withLock { _ = $0.remove(index) }
        try await waitUntilFormed(within: timeout)
    }

    /// Kills every node (SIGKILL), then starts them all again with the same names, cluster ports and flags, each
    /// seeded by all the others, and waits until they have formed the cluster again (a whole-cluster restart).
    func restartAll(within timeout: Duration = .seconds(30)) async throws {
        for index in names.indices where self[index].isRunning { await kill(index) }
        for index in names.indices {
            let seeds = clusterPorts.indices.filter { $0 != index }.map { clusterPorts[$0] }
            let node = try await NodeProcess.start(
                Self.arguments(name: names[index], port: clusterPorts[index], seeds: seeds, extra: extraArguments))
            processes.withLock { $0[index] = node }
            killed.withLock { _ = $0.remove(index) }
        }
        try await waitUntilFormed(within: timeout)
    }

    /// Stops every node (SIGTERM, then SIGKILL after two seconds), all at once.
    func stopAll() async {
        await Self.stop(nodes)
    }

    private static func stop(_ nodes: [NodeProcess]) async {
        await withTaskGroup(of: Void.self) { group in
            for node in nodes { group.addTask { await node.stop() } }
        }
    }

    /// Records an issue for every node that is not running although it was not killed on purpose.
    func checkAlive(sourceLocation: SourceLocation = #_sourceLocation) {
        for (index, node) in nodes.enumerated() where !node.isRunning && !isKilled(index) {
            Issue.record("\(names[index]) exited during the test; log tail:\n\(node.logTail())", sourceLocation: sourceLocation)
        }
    }
}

/// Starts a cluster, runs `body`, and stops every node afterwards, also when `body` throws. A node that stopped
/// running without being killed by the test is recorded as an issue. When `body` throws, the end of each node's log
/// is printed and the error is rethrown as it is.
func withCluster<T>(
    count: Int = 3, extraArguments: [String] = [], perNode: [[String]] = [],
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: (ClusterOfNodes) async throws -> T
) async throws -> T {
    let cluster = try await ClusterOfNodes.start(count: count, extraArguments: extraArguments, perNode: perNode)
    let result: T
    do {
        result = try await body(cluster)
    } catch {
        cluster.checkAlive(sourceLocation: sourceLocation)
        await cluster.stopAll()
        for (name, node) in zip(cluster.names, cluster.nodes) {
            print("--- \(name) log \(node.logPath) (tail) after \(error) ---\n\(node.logTail())")
        }
        throw error
    }
    cluster.checkAlive(sourceLocation: sourceLocation)
    await cluster.stopAll()
    return result
}

/// The messages of several clients in one arrival-ordered stream, each tagged with the index of its client, so a
/// test can wait for a total across subscribers on different nodes with one deadline.
///
/// Each client's inbox is forwarded by a task of its own until the client's message stream ends (the client
/// disconnects or is closed), so make one `MergedInbox` per set of clients and close or disconnect them at the end.
final class MergedInbox: Sendable {
    let inbox = Inbox<(client: Int, message: MQTTPacket.Publish)>()

    init(_ clients: [TestClient]) {
        for (index, client) in clients.enumerated() {
            Task { [inbox] in
                // An idle client keeps waiting: 10 minutes bound the task; a closed client's inbox ends it at once.
                while let message = await client.inbox.next(within: .seconds(600)) {
                    inbox.append((index, message))
                }
            }
        }
    }

    /// Messages until `count` have arrived, or until none arrived for `idle` (or `total` has passed): what arrived.
    /// With all messages already sent, the idle bound only matters when some are missing.
    func collect(
        _ count: Int, idle: Duration = .seconds(5), total: Duration = .seconds(60)
    ) async -> [(client: Int, message: MQTTPacket.Publish)] {
        let deadline = ContinuousClock.now + total
        var collected: [(client: Int, message: MQTTPacket.Publish)] = []
        while collected.count < count {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero, let next = await inbox.next(within: min(idle, remaining)) else { break }
            collected.append(next)
        }
        return collected
    }
}
