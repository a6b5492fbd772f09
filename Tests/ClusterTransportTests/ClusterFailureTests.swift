import Distributed
import NIOCore
import Synchronization
import Testing
@testable import ClusterTransport

@Suite("ClusterSystem failures, safety and bounds")
struct ClusterFailureTests {
    @Test("a call target of another actor type gets an error reply, and the node lives on")
    func maliciousTarget() async throws {
        try await TestCluster.with(2) { systems in
            let greeter = systems[1].makeWellKnown(path: ActorPath("/greeter")!) { Greeter(actorSystem: systems[1]) }
            _ = greeter
            let listener = systems[1].makeWellKnown(path: ActorPath("/listener")!) { Listener(actorSystem: systems[1]) }
            let remoteGreeter = try Greeter.resolve(
                id: #require(systems[0].wellKnownID(path: ActorPath("/greeter")!, on: systems[1].node.name)), using: systems[0])
            try await remoteGreeter.record(1)
            let recordTarget = try #require(systems[1].validator.acceptedTargets(on: Greeter.self).first)

            var invocation = systems[0].makeInvocationEncoder()
            try invocation.recordArgument(RemoteCallArgument(label: nil, name: "value", value: 5))
            // Greeter.record sent to a Listener: the runtime would call the wrong function and crash the callee.
            let wrongType = try await systems[0].call(listener.id, target: recordTarget, invocation)
            guard case .systemError(let error) = wrongType else { Issue.record("expected an error, got \(wrongType)"); return }
            #expect(error.code == .targetRejected)
            // Garbage and unknown targets.
            for target in ["", "hello", "$s4Fake7CounterC9incrementSiyYaKFTE", String(repeating: "x", count: 5000)] {
                let outcome = try await systems[0].call(greeter.id, target: target, invocation)
                guard case .systemError(let error) = outcome else { Issue.record("\(target.prefix(20)): \(outcome)"); continue }
                #expect(error.code == .targetRejected)
            }
            // Arguments of the wrong type for a valid target.
            var wrongArgument = systems[0].makeInvocationEncoder()
            try wrongArgument.recordArgument(RemoteCallArgument(label: nil, name: "value", value: "not an int"))
            let badArgument = try await systems[0].call(greeter.id, target: recordTarget, wrongArgument)
            guard case .systemError(let decodeError) = badArgument else { Issue.record("\(badArgument)"); return }
            #expect(decodeError.code == .serializationFailed)
            // The node is still serving.
            #expect(try await remoteGreeter.greet("still") == "hello still from n1")
        }
    }

    @Test("calls pending on a peer that goes away fail at once with peerUnreachable")
    func pendingCallsFailWhenPeerGoes() async throws {
        let a = try await TestCluster.start(TestCluster.settings("a"))
        let b = try await TestCluster.start(TestCluster.settings("b", seeds: [a.endpoint]))
        try await TestCluster.waitForUp(a, count: 2)
        try await TestCluster.waitForUp(b, count: 2)
        _ = b.makeWellKnown(path: ActorPath("/greeter")!) { Greeter(actorSystem: b) }
        let remote = try Greeter.resolve(id: #require(a.wellKnownID(path: ActorPath("/greeter")!, on: b.node.name)), using: a)
        try await ClusterSystem.withCallTimeout(.seconds(60)) {
            try await withThrowingTaskGroup(of: RemoteCallError.Code?.self) { group in
                for _ in 0..<5 {
                    group.addTask {
                        do {
                            try await remote.sleep(milliseconds: 30_000)
                            return nil
                        } catch let error as RemoteCallError {
                            return error.code
                        }
                    }
                }
                try await waitUntil { a.pending.count == 5 }
                await b.shutdown()
                for try await code in group { #expect(code == .peerUnreachable) }
            }
        }
        // The failure detector then declares it down.
        try await TestCluster.waitForView(a) { $0.member(named: b.node.name)?.status ?? .removed >= .down }
        let error = await #expect(throws: RemoteCallError.self) { try await remote.greet("gone") }
        #expect(error?.code == .peerUnreachable)
        await a.shutdown()
    }

    @Test("a node with the wrong cookie is refused and never joins")
    func wrongCookie() async throws {
        try await TestCluster.with(2) { systems in
            let intruderCookie = ClusterCookie(String(repeating: "not-the-cluster-cookie-", count: 2))!
            let intruder = try await TestCluster.start(
                TestCluster.settings("intruder", seeds: [systems[0].endpoint], cookie: intruderCookie))
            let association = intruder.transport.association(for: systems[0].endpoint)
            try await waitUntil { association.isFailing }
            #expect(intruder.membership.upBrokers.isEmpty)
            #expect(intruder.membership.members.map(\.id) == [intruder.node])
            for system in systems {
                #expect(system.membership.member(named: intruder.node.name) == nil)
            }
            await intruder.shutdown()
        }
    }

    @Test("a full outbound queue fails calls fast with overloaded instead of growing")
    func boundedQueue() async throws {
        var settings = TestCluster.settings("small-queue")
        settings.maxQueuedBytesPerPeer = 256 << 10
        let a = try await TestCluster.start(settings)
        let b = try await TestCluster.start(TestCluster.settings("reader", seeds: [a.endpoint]))
        try await TestCluster.waitForUp(a, count: 2)
        try await TestCluster.waitForUp(b, count: 2)
        _ = b.makeWellKnown(path: ActorPath("/greeter")!) { Greeter(actorSystem: b) }
        let remote = try Greeter.resolve(id: #require(a.wellKnownID(path: ActorPath("/greeter")!, on: b.node.name)), using: a)
        // The reader stops reading: a's socket fills, then its queue.
        let inbound = b.transport.state.withLock { Array($0.inbound.values) }
        for channel in inbound { try await channel.setOption(.autoRead, value: false).get() }
        let blob = (0..<(64 << 10)).map { _ in UInt8.random(in: 0...255) }  // incompressible: lz4 must not shrink it
        let overloaded = Counter()
        try await ClusterSystem.withCallTimeout(.seconds(30)) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<400 {
                    group.addTask {
                        do {
                            _ = try await remote.echo(blob)
                        } catch let error as RemoteCallError where error.code == .overloaded {
                            overloaded.increment()
                        }
                    }
                }
                try await waitUntil(within: .seconds(20)) { overloaded.value > 0 }
                #expect(a.transport.association(for: b.endpoint).writer.queuedBytes <= 256 << 10 + blob.count + 1024)
                for channel in inbound { try await channel.setOption(.autoRead, value: true).get() }
                for channel in inbound { channel.read() }
                try await group.waitForAll()
            }
        }
        #expect(overloaded.value > 0)
        #expect(try await remote.greet("after") == "hello after from reader")
        await a.shutdown()
        await b.shutdown()
    }
}

/// Polls state that has no event to wait on, with a deadline.
func waitUntil(
    within timeout: Duration = .seconds(10), _ condition: @Sendable () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw ViewTimeout(description: "condition not reached in \(timeout)") }
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// A thread-safe count, shared by concurrent tasks.
final class Counter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}

@Suite("ClusterSystem partition")
struct ClusterPartitionTests {
    /// Stops (or resumes) reading every inbound link of `system`: heartbeats and gossip from its peers stop
    /// arriving, as in a network partition, while the TCP connections stay open.
    private func setReading(_ system: ClusterSystem, _ reading: Bool) async throws {
        let inbound = system.transport.state.withLock { Array($0.inbound.values) }
        for channel in inbound {
            try await channel.setOption(.autoRead, value: reading).get()
            if reading { channel.read() }
        }
    }

    @Test("after a partition heals, both sides converge: both up, no duplicate or ghost members")
    func partitionHeals() async throws {
        try await TestCluster.with(2) { systems in
            let (a, b) = (systems[0], systems[1])
            try await setReading(a, false)
            try await setReading(b, false)
            // Each side declares the other down, then removed (tombstoned).
            try await TestCluster.waitForView(a, within: .seconds(20)) { $0.member(named: b.node.name) == nil }
            try await TestCluster.waitForView(b, within: .seconds(20)) { $0.member(named: a.node.name) == nil }
            try await setReading(a, true)
            try await setReading(b, true)
            for system in systems {
                try await TestCluster.waitForUp(system, count: 2)
                let names = system.membership.members.map(\.id)
                #expect(names.sorted() == [a.node, b.node].sorted())
            }
            let remote = try Greeter.resolve(
                id: #require(a.wellKnownID(path: ActorPath("/greeter")!, on: b.node.name)), using: a)
            _ = b.makeWellKnown(path: ActorPath("/greeter")!) { Greeter(actorSystem: b) }
            #expect(try await remote.greet("healed") == "hello healed from n1")
        }
    }
}
