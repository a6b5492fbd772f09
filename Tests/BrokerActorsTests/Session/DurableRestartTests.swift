import ClusterTransport
import MQTTCore
import NIOCore
import Testing

@testable import BrokerActors

/// The data directory across two restarts of a standalone node: what a restored session does after the first
/// restart must still be there after the second.
@Suite struct DurableRestartTests {
    typealias F = DurableFixtures

    /// Opens the store, starts a standalone broker on it, restores, runs `body`, flushes and stops.
    static func run(_ directory: String, _ body: (Broker) async throws -> Void) async throws -> RestoredState {
        let (store, restored) = try DurableStore.open(directory: directory)
        var settings = ClusterSystemSettings(name: NodeName("solo")!, cookie: ClusterCookie(String(repeating: "k", count: 48))!)
        settings.listens = false
        let system = try await ClusterSystem(settings: settings)
        let broker = Broker(configuration: BrokerConfiguration(), actorSystem: system, store: store, logger: .init(label: "test"))
        await broker.restore(restored)
        try await body(broker)
        await store.flush()
        await system.shutdown()
        return restored
    }

    static func queued(_ d: DurableFixtures.Summary, _ client: ClientID) -> Int? { d.sessions[client]?.observation.queueCount }

    @Test func changesToARestoredSessionSurviveTheNextRestart() async throws {
        let directory = F.temporaryDirectory()
        defer { F.cleanUp(directory) }
        // What an earlier run left: an offline persistent session (no expiry due) that had made 5 changes.
        do {
            let (store, _) = try DurableStore.open(directory: directory)
            var snapshot = F.snapshot("c1", filters: ["a"])
            snapshot.timers = SessionTimers()
            store.append(.session("c1", sequence: 5, snapshot))
            await store.flush()
        }
        // First restart: the session is restored, then receives two messages while its client is away.
        let first = try await Self.run(directory) { broker in
            let session = try #require(broker.sessions.session(for: "c1"))
            let message = Message(topic: "a", payload: ByteBuffer(string: "m"), qos: .atLeastOnce)
            let item = SessionDelivery(message: message, delivery: Delivery(clientID: "c1", qos: .atLeastOnce))
            try await session.deliver([item])
            try await session.deliver([item])
            let queued = await session.whenLocal { $0.state.queue.count }
            #expect(queued == 2)
        }
        #expect(first.sessions["c1"]?.sequence == 5)
        // Second restart: both messages are still queued.
        let second = try await Self.run(directory) { _ in }
        #expect(second.sessions["c1"] != nil)
        #expect(second.sessions["c1"]?.snapshot.state.queue.count == 2,
                "the session came back as it was before the first restart: its later changes were lost")
        #expect(second.sessions["c1"]?.snapshot.state.subscriptions.keys.sorted() == ["a"])
    }
}
