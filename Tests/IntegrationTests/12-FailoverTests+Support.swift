import ClusterTransport
import MQTTClient
import MQTTCore
import NIOCore
import Synchronization
import Testing

/// Where the three-node test cluster places things, computed the way the nodes do: a session lives on the owner of
/// `session/<clientID>` (weighted rendezvous hashing over the up nodes, all of weight 1), and its replica on the second
/// node of that key's preference list; retained shard `i` of a topic (`fnv1a(topic) % 4`) lives on the first two
/// nodes of `retained/<i>`'s list. Node indexes are those of `ClusterOfNodes` (0 is `n1`).
enum Placement {
    static let names = (1...3).map { "n\($0)@127.0.0.1" }

    /// `nodes` as ownership candidates; `weights[i]` is node i's weight (1 when not given).
    static func candidates(_ nodes: [Int], weights: [Double] = []) -> [OwnershipCandidate] {
        nodes.map { OwnershipCandidate(name: NodeName(names[$0])!, weight: weights.indices.contains($0) ? weights[$0] : 1) }
    }

    /// Indexes of the nodes for `key`, best first, among `nodes` (with `weights`, default all 1).
    static func preference(for key: String, among nodes: [Int] = [0, 1, 2], weights: [Double] = []) -> [Int] {
        Ownership.preferenceList(for: key, among: candidates(nodes, weights: weights))
            .map { names.firstIndex(of: $0.rawValue)! }
    }

    /// The node owning the session of `clientID` among `nodes` (with `weights`, default all 1).
    static func owner(of clientID: String, among nodes: [Int] = [0, 1, 2], weights: [Double] = []) -> Int {
        preference(for: "session/\(clientID)", among: nodes, weights: weights)[0]
    }

    /// The node holding the replica of the session of `clientID` among `nodes`.
    static func replica(of clientID: String, among nodes: [Int] = [0, 1, 2]) -> Int {
        preference(for: "session/\(clientID)", among: nodes)[1]
    }

    /// The first `<prefix>-<k>` whose session `owner` owns while all three nodes are up.
    static func clientID(_ prefix: String, ownedBy owner: Int) -> String {
        for k in 0..<10_000 where Self.owner(of: "\(prefix)-\(k)") == owner { return "\(prefix)-\(k)" }
        preconditionFailure("no client ID with prefix \(prefix) owned by node \(owner)")
    }

    /// The retained shard of `topic` (`StableHash.shard` in BrokerActors: FNV-1a over the UTF-8 bytes, modulo the
    /// shard count, 4 by default).
    static func retainedShard(of topic: String, shards: Int = 4) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in topic.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return Int(hash % UInt64(shards))
    }

    /// The primary and the replica of retained shard `shard`.
    static func retainedOwners(ofShard shard: Int) -> [Int] {
        Array(preference(for: "retained/\(shard)").prefix(2))
    }
}

/// A persistent MQTT 5 client as a real one behaves around a failover: Clean Start 0, a Session Expiry, optionally a
/// will (`will` topic, Will Delay) and one QoS 1 subscription made on the first connection. Whenever its connection
/// closes (its node died, or the server sent DISCONNECT 0x9C) it reconnects with the same client ID to a running
/// node other than the one it was on, retrying every 200 ms for at most 40 s, until `stop()`. Every message any of
/// its connections received is counted by payload.
final class PersistentClient: Sendable {
    struct Setup: Sendable {
        var clientID: String
        var expiry: UInt32 = 300
        var willTopic: String?
        var willDelay: UInt32 = 0
        var filter: String?
    }

    /// One reconnection after a close.
    struct Reconnect: Sendable, CustomStringConvertible {
        /// The reason code of the server's DISCONNECT before the close, nil when the connection just dropped.
        var closeReason: MQTTReasonCode?
        var closedAt: ContinuousClock.Instant
        var node: Int
        var attempts: Int
        var sessionPresent: Bool
        var connectedAt: ContinuousClock.Instant

        var description: String {
            let reason = closeReason.map { "DISCONNECT 0x\(String($0.rawValue, radix: 16))" } ?? "dropped"
            return "\(reason) -> n\(node + 1) after \(attempts) attempt(s), \(connectedAt - closedAt), "
                + "Session Present \(sessionPresent ? 1 : 0)"
        }
    }

    private struct State {
        var client: TestClient?
        var node: Int
        var received: [String: Int] = [:]
        var reconnects: [Reconnect] = []
        var problems: [String] = []
        var stopping = false
        var supervisor: Task<Void, Never>?
    }

    let setup: Setup
    /// Rotates the choice of node between clients.
    private let spread: Int
    private let state: Mutex<State>

    var clientID: String { setup.clientID }
    /// The node the client first connected to.
    let home: Int

    private init(setup: Setup, home: Int, spread: Int) {
        self.setup = setup
        self.home = home
        self.spread = spread
        self.state = Mutex(State(node: home))
    }

    /// Connects to node `node` (Clean Start 0), subscribes when the setup has a filter, and starts following the
    /// connection. Expects a fresh session (Session Present 0) unless `expectPresent`.
    static func start(
        _ setup: Setup, on node: Int, in cluster: ClusterOfNodes, spread: Int = 0, expectPresent: Bool = false
    ) async throws -> PersistentClient {
        let client = PersistentClient(setup: setup, home: node, spread: spread)
        let connection = try await client.connect(to: cluster[node])
        #expect(connection.connAck.sessionPresent == expectPresent, "\(setup.clientID): Session Present on first connect")
        if let filter = setup.filter {
            let ack = try await connection.subscribe(filter, qos: .atLeastOnce)
            #expect(ack.reasonCodes == [.grantedQoS1], "\(setup.clientID): SUBACK \(ack.reasonCodes)")
        }
        client.attach(connection, node: node)
        let task = Task { await client.supervise(cluster) }
        client.state.withLock { $0.supervisor = task }
        return client
    }

    private func connect(to node: NodeProcess) async throws -> TestClient {
        let setup = self.setup
        return try await TestClient.connect(node, setup.clientID, cleanStart: false) { config in
            config.connectProperties.sessionExpiryInterval = setup.expiry
            config.connectTimeout = .seconds(5)
            config.requestTimeout = .seconds(20)
            if let topic = setup.willTopic {
                var properties = MQTTProperties()
                properties.willDelayInterval = setup.willDelay
                config.will = MQTTPacket.Will(
                    topic: TopicName(stringLiteral: topic), payload: ByteBuffer(string: "gone \(setup.clientID)"),
                    qos: .atLeastOnce, properties: properties)
            }
        }
    }

    /// Makes `connection` the current one and counts what it receives.
    private func attach(_ connection: TestClient, node: Int) {
        state.withLock {
            $0.client = connection
            $0.node = node
        }
        Task { [self] in
            while let message = await connection.inbox.next(within: .seconds(600)) {
                self.state.withLock { $0.received[message.text, default: 0] += 1 }
            }
        }
    }

    private var isStopping: Bool { state.withLock { $0.stopping } }

    private func supervise(_ cluster: ClusterOfNodes) async {
        while let client = state.withLock({ $0.client }) {
            let info = await client.client.waitUntilClosed()
            let closedAt = ContinuousClock.now
            if isStopping { return }
            let previous = state.withLock { $0.node }
            var attempts = 0
            while true {
                if isStopping { return }
                attempts += 1
                let running = (0..<cluster.names.count).filter { !cluster.isKilled($0) && cluster[$0].isRunning }
                let others = running.filter { $0 != previous }
                let choices = others.isEmpty ? running : others
                if !choices.isEmpty {
                    let node = choices[(spread + attempts - 1) % choices.count]
                    if let connection = try? await connect(to: cluster[node]) {
                        let keep = state.withLock { s -> Bool in
                            guard !s.stopping else { return false }
                            s.reconnects.append(Reconnect(
                                closeReason: info.serverDisconnect?.reasonCode, closedAt: closedAt, node: node,
                                attempts: attempts, sessionPresent: connection.connAck.sessionPresent,
                                connectedAt: .now))
                            if !connection.connAck.sessionPresent {
                                s.problems.append("reconnected to n\(node + 1) with Session Present 0")
                            }
                            return true
                        }
                        guard keep else {
                            try? await connection.disconnect()
                            return
                        }
                        if !connection.connAck.sessionPresent, let filter = setup.filter {
                            _ = try? await connection.subscribe(filter, qos: .atLeastOnce)  // so later messages still count
                        }
                        attach(connection, node: node)
                        break
                    }
                }
                if ContinuousClock.now - closedAt > .seconds(40) {
                    state.withLock { $0.problems.append("could not reconnect within 40 s (\(attempts) attempts)") }
                    return
                }
                try? await Task.sleep(for: .milliseconds(200))  // the client's reconnect back-off
            }
        }
    }

    /// Stops reconnecting and disconnects normally (no will).
    func stop() async {
        let (client, task) = state.withLock { s in
            s.stopping = true
            return (s.client, s.supervisor)
        }
        try? await client?.disconnect()
        await task?.value
    }

    /// Closes the connection without DISCONNECT and stops reconnecting (the will applies).
    func drop() async {
        let (client, task) = state.withLock { s in
            s.stopping = true
            return (s.client, s.supervisor)
        }
        await client?.close()
        await task?.value
    }

    var reconnects: [Reconnect] { state.withLock { $0.reconnects } }
    var problems: [String] { state.withLock { $0.problems } }
    var received: [String: Int] { state.withLock { $0.received } }
    /// The node of the current (or last) connection.
    var node: Int { state.withLock { $0.node } }
    var isConnected: Bool { state.withLock { $0.client?.client.channel.isActive ?? false } }

    /// The payloads of `expected` this client has not received.
    func missing(_ expected: [String]) -> [String] {
        let received = self.received
        return expected.filter { received[$0] == nil }
    }
}

/// The outcome of one QoS 1 publish of a paced run.
struct PublishOutcome: Sendable {
    var payload: String
    /// The PUBACK's reason code, nil when the publish threw.
    var reasonCode: MQTTReasonCode?
    var error: String?
    var latency: Duration

    var isAcked: Bool { reasonCode == .success }
}

extension FailoverTests {
    /// Publishes `<prefix><n>` for n = 0, 1, ... to `topic` at QoS 1, one every `interval`, without waiting for the
    /// acknowledgements in between (each is awaited by a task of its own). `shouldPublish(n)` runs before message n
    /// (it may start a kill or a restart); publishing ends when it returns false, after `maxCount` messages, or
    /// after `limit`. Returns every outcome, in order.
    static func publishPaced(
        _ publisher: TestClient, topic: String, prefix: String, maxCount: Int,
        every interval: Duration = .milliseconds(10), limit: Duration = .seconds(30),
        shouldPublish: (Int) async -> Bool = { _ in true }
    ) async -> [PublishOutcome] {
        let deadline = ContinuousClock.now + limit
        return await withTaskGroup(of: (Int, PublishOutcome).self) { group in
            for n in 0..<maxCount {
                guard ContinuousClock.now < deadline, await shouldPublish(n) else { break }
                let payload = "\(prefix)\(n)"
                group.addTask {
                    let start = ContinuousClock.now
                    do {
                        let result = try await publisher.publish(topic, payload, qos: .atLeastOnce)
                        return (n, PublishOutcome(
                            payload: payload, reasonCode: result.reasonCode, latency: ContinuousClock.now - start))
                    } catch {
                        return (n, PublishOutcome(
                            payload: payload, error: "\(error)", latency: ContinuousClock.now - start))
                    }
                }
                try? await Task.sleep(for: interval)  // pacing, not synchronisation
            }
            var outcomes: [(Int, PublishOutcome)] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    /// A line per publish that did not get PUBACK success.
    static func publishProblems(_ outcomes: [PublishOutcome]) -> [String] {
        outcomes.filter { !$0.isAcked }.map { outcome in
            "\(outcome.payload): " + (outcome.error ?? "PUBACK \(outcome.reasonCode.map { "0x\(String($0.rawValue, radix: 16))" } ?? "-")")
                + " after \(outcome.latency)"
        }
    }

    /// Waits (at most `timeout`) until every client has received every payload of `acked`; then returns a line per
    /// client that misses some, empty when none does.
    static func waitForDelivery(
        of acked: [String], to clients: [PersistentClient], within timeout: Duration = .seconds(30)
    ) async -> [String] {
        try? await waitUntil("every subscriber to have every acknowledged message", within: timeout, every: .milliseconds(100)) {
            clients.allSatisfy { $0.missing(acked).isEmpty }
        }
        return clients.compactMap { client in
            let missing = client.missing(acked)
            guard !missing.isEmpty else { return nil }
            return "\(client.clientID) (first on n\(client.home + 1), owner n\(Placement.owner(of: client.clientID) + 1), replica n\(Placement.replica(of: client.clientID) + 1), "
                + "now on n\(client.node + 1)) misses \(missing.count) of \(acked.count): \(missing.prefix(40))"
                + " reconnects: \(client.reconnects)"
        }
    }

    /// Messages on `watcher` until their topics include all of `expected` (at most `within`), then any more that
    /// arrive before `quietUntil` (an absence check); by topic, with their arrival times.
    static func collectTopics(
        _ watcher: TimedInbox, expected: Set<String>, within timeout: Duration, quietUntil: () -> ContinuousClock.Instant
    ) async -> [(topic: String, at: ContinuousClock.Instant)] {
        var seen: [(topic: String, at: ContinuousClock.Instant)] = []
        let deadline = ContinuousClock.now + timeout
        while !expected.isSubset(of: Set(seen.map(\.topic))) {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero, let message = await watcher.inbox.next(within: remaining) else { break }
            seen.append((message.message.topicString, message.at))
        }
        while true {
            let remaining = quietUntil() - ContinuousClock.now
            guard remaining > .zero, let message = await watcher.inbox.next(within: remaining) else { break }
            seen.append((message.message.topicString, message.at))
        }
        return seen
    }

    /// Connects a plain client (Clean Start 1) whose session `node` owns, so that no failover touches it.
    static func localClient(
        _ cluster: ClusterOfNodes, _ prefix: String, on node: Int,
        configure: (inout MQTTClientConfiguration) -> Void = { _ in }
    ) async throws -> TestClient {
        try await TestClient.connect(cluster[node], Placement.clientID(prefix, ownedBy: node), configure: configure)
    }
}

/// A client's messages stamped with the moment they arrived, for tests that read them later.
final class TimedInbox: Sendable {
    let inbox = Inbox<(message: MQTTPacket.Publish, at: ContinuousClock.Instant)>()

    init(_ client: TestClient) {
        Task { [inbox] in
            while let message = await client.inbox.next(within: .seconds(600)) { inbox.append((message, .now)) }
            inbox.finish()
        }
    }
}
