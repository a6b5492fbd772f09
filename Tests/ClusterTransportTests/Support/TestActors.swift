import Distributed
import Synchronization
@testable import ClusterTransport

struct Point: Codable, Sendable, Equatable {
    var x: Int
    var y: Int
}

struct Unregistered: Codable, Sendable, Equatable {
    var value: Int
}

enum TestError: Error, Codable, Equatable {
    case rejected(Int)
}

struct UnlistedError: Error {}

/// A general-purpose test actor: greetings, generics, errors, call-backs, children and ordering.
distributed actor Greeter {
    typealias ActorSystem = ClusterSystem

    private var received: [Int] = []
    private var children: [String: Greeter] = [:]

    distributed func greet(_ name: String) -> String {
        "hello \(name) from \(actorSystem.node.name)"
    }

    distributed func echo<T: Codable & Sendable>(_ value: T) -> T { value }

    distributed func fail(_ code: Int) throws -> Int { throw TestError.rejected(code) }

    distributed func failUnlisted() throws { throw UnlistedError() }

    distributed func sleep(milliseconds: Int) async throws {
        try await Task.sleep(for: .milliseconds(milliseconds))
    }

    /// Calls `listener` (on the caller's node) and returns what it answered.
    distributed func callBack(_ listener: Listener, _ text: String) async throws -> String {
        try await listener.notify(text + " via \(actorSystem.node.name)")
    }

    /// A child held by this actor, so it lives as long as its parent.
    distributed func child(named name: String) -> Greeter {
        if let existing = children[name] { return existing }
        let created = Greeter(actorSystem: actorSystem)
        children[name] = created
        return created
    }

    distributed func record(_ value: Int) { received.append(value) }

    distributed func recorded() -> [Int] { received }

    /// Returns the same reference it was given (round trip of a caller's own actor).
    distributed func bounce(_ listener: Listener) -> Listener { listener }
}

distributed actor Listener {
    typealias ActorSystem = ClusterSystem

    distributed func notify(_ text: String) -> String {
        "\(actorSystem.node.name) got: \(text)"
    }
}

/// A keyed actor: one activation per key, on the key's owner.
distributed actor KeyedCounter {
    typealias ActorSystem = ClusterSystem

    private var value = 0

    distributed func add(_ amount: Int) -> CounterReading {
        value += amount
        return CounterReading(node: actorSystem.node.name.rawValue, value: value)
    }
}

struct CounterReading: Codable, Sendable, Equatable {
    var node: String
    var value: Int
}

/// An actor whose calls run concurrently: `wait()` returns only once `open()` has been called, which in a FIFO
/// inbox (behind the waiting call) could never happen.
distributed actor Gate: UnorderedCallRecipient {
    typealias ActorSystem = ClusterSystem

    private var opened = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    distributed func wait() async {
        if opened { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    distributed func waiterCount() -> Int { waiters.count }

    distributed func open() {
        opened = true
        for waiter in waiters { waiter.resume() }
        waiters.removeAll()
    }
}
