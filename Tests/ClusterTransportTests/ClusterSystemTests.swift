import Distributed
import NIOCore
import Testing
@testable import ClusterTransport

/// Several ClusterSystems in one process on 127.0.0.1, over real TLS sockets.
@Suite("ClusterSystem in one process")
struct ClusterSystemTests {
    static let greeterPath = ActorPath("/greeter")!

    /// Each system hosts a well-known greeter; returns, for each system, a reference to every system's greeter.
    private func greeters(_ systems: [ClusterSystem]) throws -> [[Greeter]] {
        let locals = systems.map { system in system.makeWellKnown(path: Self.greeterPath) { Greeter(actorSystem: system) } }
        _ = locals
        return try systems.map { caller in
            try systems.map { target in
                try Greeter.resolve(id: #require(caller.wellKnownID(path: Self.greeterPath, on: target.node.name)), using: caller)
            }
        }
    }

    @Test("a cluster forms from a seed and every member sees the same up members")
    func formsFromSeed() async throws {
        try await TestCluster.with(3) { systems in
            let views = systems.map { Set($0.membership.upBrokers.map(\.id)) }
            #expect(Set(views).count == 1)
            #expect(views[0] == Set(systems.map(\.node)))
        }
    }

    @Test("calls cross every pair of nodes, and local calls stay local")
    func callsEveryDirection() async throws {
        try await TestCluster.with(3) { systems in
            let refs = try greeters(systems)
            for (i, caller) in systems.enumerated() {
                for (j, target) in systems.enumerated() {
                    #expect(__isRemoteActor(refs[i][j]) == (i != j))
                    let answer = try await refs[i][j].greet(caller.node.name.rawValue)
                    #expect(answer == "hello \(caller.node.name) from \(target.node.name)")
                }
            }
        }
    }

    @Test("actor references cross nodes as arguments and results")
    func actorReferences() async throws {
        try await TestCluster.with(2) { systems in
            let refs = try greeters(systems)
            let listener = Listener(actorSystem: systems[0])
            let answer = try await refs[0][1].callBack(listener, "ping")
            #expect(answer == "n0 got: ping via n1")
            // A reference to the caller's own actor comes back as the same local instance.
            let bounced = try await refs[0][1].bounce(listener)
            #expect(bounced === listener)
            // A reference created on the remote node, returned to the caller, is callable from there.
            let child = try await refs[0][1].child(named: "c1")
            #expect(__isRemoteActor(child))
            #expect(try await child.greet("x") == "hello x from n1")
        }
    }

    @Test("one-way calls run in the order sent, return without a reply, and a failing one reports nothing")
    func oneWayCalls() async throws {
        try await TestCluster.with(2) { systems in
            let remote = try greeters(systems)[0][1]
            for value in 0..<200 {
                try await ClusterSystem.oneWay { try await remote.record(value) }
            }
            // A throwing target sent one-way: the caller gets no error back (no reply at all).
            try await ClusterSystem.oneWay { try await remote.failUnlisted() }
            // A normal call queues behind the one-way calls from this node (FIFO per recipient).
            #expect(try await remote.recorded() == Array(0..<200))
        }
    }

    @Test("calls to an UnorderedCallRecipient from one node run concurrently, not behind each other")
    func unorderedRecipient() async throws {
        try await TestCluster.with(2) { systems in
            let path = ActorPath("/gate")!
            _ = systems[1].makeWellKnown(path: path) { Gate(actorSystem: systems[1]) }
            let gate = try Gate.resolve(id: #require(systems[0].wellKnownID(path: path, on: systems[1].node.name)), using: systems[0])
            let waiting = Task { try await gate.wait() }
            // In a FIFO inbox these calls would queue behind `wait()`, which never returns without `open()`: they
            // would time out.
            try await ClusterSystem.withCallTimeout(.seconds(2)) {
                var held = 0
                for _ in 0..<10_000 where held == 0 {
                    held = try await gate.waiterCount()
                }
                #expect(held == 1)
                try await gate.open()
            }
            try await waiting.value
        }
    }

    @Test("generic distributed functions with registered substitutions")
    func generics() async throws {
        try await TestCluster.with(2) { systems in
            let remote = try greeters(systems)[0][1]
            #expect(try await remote.echo(Point(x: 3, y: -4)) == Point(x: 3, y: -4))
            #expect(try await remote.echo(["a", "b"]) == ["a", "b"])
            #expect(try await remote.echo(42) == 42)
            let error = await #expect(throws: RemoteCallError.self) { try await remote.echo(Unregistered(value: 1)) }
            #expect(error?.code == .targetRejected)
        }
    }

    @Test("allow-listed errors are re-thrown typed; others arrive as remoteThrew with their type name")
    func errors() async throws {
        try await TestCluster.with(2) { systems in
            let remote = try greeters(systems)[0][1]
            await #expect(throws: TestError.rejected(7)) { try await remote.fail(7) }
            let error = await #expect(throws: RemoteCallError.self) { try await remote.failUnlisted() }
            #expect(error?.code == .remoteThrew)
            #expect(error?.detail.hasSuffix("UnlistedError") == true)
        }
    }

    @Test("a call past its deadline fails with timedOut")
    func timeout() async throws {
        try await TestCluster.with(2) { systems in
            let remote = try greeters(systems)[0][1]
            let error = await #expect(throws: RemoteCallError.self) {
                try await ClusterSystem.withCallTimeout(.milliseconds(300)) { try await remote.sleep(milliseconds: 3_000) }
            }
            #expect(error?.code == .timedOut)
            #expect(systems[0].pending.count == 0)
        }
    }

    @Test("a call to an actor that does not exist fails at once with actorNotFound")
    func actorNotFound() async throws {
        try await TestCluster.with(2) { systems in
            let id = try #require(systems[0].wellKnownID(path: ActorPath("/nobody")!, on: systems[1].node.name))
            let ghost = try Greeter.resolve(id: id, using: systems[0])
            let error = await #expect(throws: RemoteCallError.self) { try await ghost.greet("anyone") }
            #expect(error?.code == .actorNotFound)
            // A local ID that is not registered is refused by resolve itself.
            #expect(throws: RemoteCallError.self) {
                try Greeter.resolve(id: ClusterActorID(node: systems[0].node, path: ActorPath("/nobody")!), using: systems[0])
            }
        }
    }

    @Test("a reference to a dead incarnation fails fast")
    func deadIncarnation() async throws {
        try await TestCluster.with(2) { systems in
            let old = NodeID(name: systems[1].node.name, incarnation: Incarnation(rawValue: systems[1].node.incarnation.rawValue - 1))
            let stale = try Greeter.resolve(id: ClusterActorID(node: old, path: Self.greeterPath), using: systems[0])
            let error = await #expect(throws: RemoteCallError.self) { try await stale.greet("x") }
            #expect(error?.code == .peerUnreachable)
        }
    }

    @Test("a keyed actor is activated once, on its HRW owner, whichever node calls it")
    func keyedActors() async throws {
        try await TestCluster.with(3) { systems in
            for index in 0..<12 {
                let key = try #require(ActorKey("counter/k\(index)"))
                let owner = try #require(systems[0].owner(of: key))
                let candidates = systems[0].membership.upBrokers.map { OwnershipCandidate(name: $0.id.name, weight: $0.weight) }
                #expect(owner == Ownership.primary(for: key.rawValue, among: candidates))
                var expected = 0
                for system in systems {
                    let counter = try KeyedCounter.resolve(id: ClusterActorID(key: key), using: system)
                    expected += 2
                    #expect(try await counter.add(2) == CounterReading(node: owner.rawValue, value: expected))
                }
                #expect(systems.filter { $0.isActive(key: key) }.map(\.node.name) == [owner])
            }
        }
    }

    @Test("calls from one node to one actor run in the order they were sent")
    func perRecipientOrder() async throws {
        try await TestCluster.with(2) { systems in
            let remote = try greeters(systems)[0][1]
            try await remote.record(-1)  // a real call, so the validator knows the `record` target
            let target = try #require(systems[1].validator.acceptedTargets(on: Greeter.self).first)
            let id = remote.id
            // Pipelined: all frames are queued from this one task before any reply comes back.
            for value in 0..<300 {
                var invocation = systems[0].makeInvocationEncoder()
                try invocation.recordArgument(RemoteCallArgument(label: nil, name: "value", value: value))
                let envelope = CallEnvelope(
                    callID: 1_000_000 + UInt64(value), timeoutMillis: 5_000, recipient: id, target: target,
                    substitutions: [], arguments: invocation.arguments)
                var payload = ByteBuffer()
                envelope.encode(into: &payload)
                try systems[0].transport.send(ClusterFrame(kind: .call, payload: payload), to: systems[1].node.name)
            }
            #expect(try await remote.recorded() == [-1] + Array(0..<300))
        }
    }
}

@Suite("ClusterSystem keyed re-routing")
struct ClusterRerouteTests {
    @Test("a keyed call that reaches a node which does not own the key is answered moved and re-routed to the owner")
    func movedIsRerouted() async throws {
        try await TestCluster.with(3) { systems in
            let (a, b, c) = (systems[0], systems[1], systems[2])
            let key = try #require((0..<1000).lazy.compactMap { ActorKey("counter/r\($0)") }.first { a.owner(of: $0) == c.node.name })
            // One ordinary call, so that c's validator knows the real target identifier of `add`.
            _ = try await KeyedCounter.resolve(id: ClusterActorID(key: key), using: a).add(1)
            let add = try #require(c.validator.acceptedTargets(on: KeyedCounter.self).first)
            var invocation = a.makeInvocationEncoder()
            try invocation.recordArgument(RemoteCallArgument(label: nil, name: "amount", value: 5))
            // Sent to b first, as a caller with an older view would: b answers moved(c), the call goes on to c.
            let outcome = try await a.call(ClusterActorID(key: key), target: add, invocation, via: b.node.name)
            guard case .value(var buffer) = outcome else { Issue.record("expected a value, got \(outcome)"); return }
            #expect(try BinaryDecoder().decode(CounterReading.self, from: &buffer) == CounterReading(node: c.node.name.rawValue, value: 6))
            #expect(a.reroutes.load(ordering: .relaxed) == 1)
            #expect(!b.isActive(key: key))
        }
    }
}
