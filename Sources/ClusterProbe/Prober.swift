import ClusterTransport
import Distributed

/// A node's identity as a probe reports it.
public struct ProbeIdentity: Codable, Sendable, Hashable {
    public let name: String
    public let incarnation: UInt64
}

/// A small message, as in a batch of deliveries.
public struct ProbeMessage: Codable, Sendable, Equatable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: UInt8

    public init(topic: String, payload: [UInt8], qos: UInt8) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
    }
}

public struct ProbeReading: Codable, Sendable, Equatable {
    public let node: String
    public let value: Int

    public init(node: String, value: Int) {
        self.node = node
        self.value = value
    }
}

/// The actor every probe process hosts at `/probe`: what the multi-process tests and the remote-call benchmark
/// call. It makes calls onward to other members on request, so tests can exercise every pair of processes.
public distributed actor Prober {
    public typealias ActorSystem = ClusterSystem

    public static let path = ActorPath("/probe")!

    public init(actorSystem: ClusterSystem) {
        self.actorSystem = actorSystem
    }

    public distributed func identity() -> ProbeIdentity {
        ProbeIdentity(name: actorSystem.node.name.rawValue, incarnation: actorSystem.node.incarnation.rawValue)
    }

    public distributed func greet(_ text: String) -> String {
        "hello \(text) from \(actorSystem.node.name)"
    }

    public distributed func ping(_ value: Int) -> Int { value }

    /// Takes a large argument; returns its size.
    public distributed func absorb(_ bytes: [UInt8]) -> Int { bytes.count }

    /// Takes a batch of messages; returns how many.
    public distributed func deliver(_ batch: [ProbeMessage]) -> Int { batch.count }

    public distributed func sleep(milliseconds: Int) async throws {
        try await Task.sleep(for: .milliseconds(milliseconds))
    }

    /// Calls the probe on member `name` and returns its greeting.
    public distributed func callPeer(_ name: String, _ text: String) async throws -> String {
        guard let node = NodeName(name), let id = actorSystem.wellKnownID(path: Self.path, on: node) else {
            throw RemoteCallError(.peerUnreachable, name)
        }
        return try await Prober.resolve(id: id, using: actorSystem).greet(text)
    }

    /// Adds to the keyed counter `counter/<key>`, wherever its owner is.
    public distributed func counterAdd(_ key: String, _ amount: Int) async throws -> ProbeReading {
        guard let actorKey = ActorKey(kind: "counter", name: key) else { throw RemoteCallError(.actorNotFound, key) }
        return try await ProbeCounter.resolve(id: ClusterActorID(key: actorKey), using: actorSystem).add(amount)
    }
}

/// A keyed actor (`counter/<name>`), activated on its owner.
public distributed actor ProbeCounter {
    public typealias ActorSystem = ClusterSystem

    private var value = 0

    public init(actorSystem: ClusterSystem) {
        self.actorSystem = actorSystem
    }

    public distributed func add(_ amount: Int) -> ProbeReading {
        value += amount
        return ProbeReading(node: actorSystem.node.name.rawValue, value: value)
    }
}

public enum ProbeHost {
    /// Hosts the probe actors on `system`: `/probe`, and the factory for `counter/…` keys.
    @discardableResult
    public static func install(on system: ClusterSystem) -> Prober {
        system.registerKeyed(kind: "counter") { _, system in ProbeCounter(actorSystem: system) }
        return system.makeWellKnown(path: Prober.path) { Prober(actorSystem: system) }
    }

    /// A reference to the probe on member `name`.
    public static func prober(on name: NodeName, using system: ClusterSystem) throws -> Prober {
        guard let id = system.wellKnownID(path: Prober.path, on: name) else {
            throw RemoteCallError(.peerUnreachable, "\(name) is not a member")
        }
        return try Prober.resolve(id: id, using: system)
    }
}
