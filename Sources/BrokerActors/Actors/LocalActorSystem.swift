import Distributed
import Synchronization

/// The in-process actor system the broker runs on until the cluster's `ClusterSystem` exists.
///
/// It replaces the standard library's `LocalTestingDistributedActorSystem`, which keeps every actor it ever saw in a
/// strong registry and never forgets an assigned ID: a broker on it leaks every connection and session actor.
/// Here the registry holds actors weakly and forgets them when they resign, so an actor lives exactly as long as
/// the broker references it. IDs are integers. Every actor is local, so there are no remote calls.
public final class LocalActorSystem: DistributedActorSystem, Sendable {
    public typealias ActorID = LocalActorID
    public typealias SerializationRequirement = any Codable
    public typealias InvocationEncoder = LocalInvocationEncoder
    public typealias InvocationDecoder = LocalInvocationDecoder
    public typealias ResultHandler = LocalResultHandler

    private struct WeakActor {
        weak var actor: (any DistributedActor)?
        init(_ actor: any DistributedActor) { self.actor = actor }
    }

    private let nextID = Atomic<UInt64>(1)
    private let registry = Mutex<[LocalActorID: WeakActor]>([:])

    public init() {}

    public func assignID<Act>(_ actorType: Act.Type) -> LocalActorID where Act: DistributedActor, Act.ID == ActorID {
        LocalActorID(value: nextID.add(1, ordering: .relaxed).oldValue)
    }

    public func actorReady<Act>(_ actor: Act) where Act: DistributedActor, Act.ID == ActorID {
        registry.withLock { $0[actor.id] = WeakActor(actor) }
    }

    public func resignID(_ id: LocalActorID) {
        _ = registry.withLock { $0.removeValue(forKey: id) }
    }

    public func resolve<Act>(id: LocalActorID, as actorType: Act.Type) throws -> Act?
    where Act: DistributedActor, Act.ID == ActorID {
        guard let actor = registry.withLock({ $0[id]?.actor }) else { throw LocalActorSystemError.actorNotFound(id) }
        guard let typed = actor as? Act else { throw LocalActorSystemError.wrongType(id) }
        return typed
    }

    public func makeInvocationEncoder() -> LocalInvocationEncoder { LocalInvocationEncoder() }

    public func remoteCall<Act, Err, Res>(
        on actor: Act, target: RemoteCallTarget, invocation: inout LocalInvocationEncoder, throwing: Err.Type,
        returning: Res.Type
    ) async throws -> Res where Act: DistributedActor, Act.ID == ActorID, Err: Error, Res: Codable {
        throw LocalActorSystemError.remoteCallUnsupported
    }

    public func remoteCallVoid<Act, Err>(
        on actor: Act, target: RemoteCallTarget, invocation: inout LocalInvocationEncoder, throwing: Err.Type
    ) async throws where Act: DistributedActor, Act.ID == ActorID, Err: Error {
        throw LocalActorSystemError.remoteCallUnsupported
    }
}

public struct LocalActorID: Hashable, Sendable, Codable, CustomStringConvertible {
    public let value: UInt64
    public var description: String { "local/\(value)" }
}

public enum LocalActorSystemError: DistributedActorSystemError, Equatable {
    case actorNotFound(LocalActorID)
    case wrongType(LocalActorID)
    /// Every actor of this system is local; a remote call means a reference crossed into another system.
    case remoteCallUnsupported
}

/// Local calls never serialize; these exist because the protocol requires them.
public struct LocalInvocationEncoder: DistributedTargetInvocationEncoder {
    public typealias SerializationRequirement = any Codable
    public mutating func recordGenericSubstitution<T>(_ type: T.Type) throws {}
    public mutating func recordArgument<Value: Codable>(_ argument: RemoteCallArgument<Value>) throws {}
    public mutating func recordErrorType<E: Error>(_ type: E.Type) throws {}
    public mutating func recordReturnType<R: Codable>(_ type: R.Type) throws {}
    public mutating func doneRecording() throws {}
}

public struct LocalInvocationDecoder: DistributedTargetInvocationDecoder {
    public typealias SerializationRequirement = any Codable
    public mutating func decodeGenericSubstitutions() throws -> [any Any.Type] { [] }
    public mutating func decodeNextArgument<Argument: Codable>() throws -> Argument {
        throw LocalActorSystemError.remoteCallUnsupported
    }
    public mutating func decodeErrorType() throws -> (any Any.Type)? { nil }
    public mutating func decodeReturnType() throws -> (any Any.Type)? { nil }
}

public struct LocalResultHandler: DistributedTargetInvocationResultHandler {
    public typealias SerializationRequirement = any Codable
    public func onReturn<Success: Codable>(value: Success) async throws {}
    public func onReturnVoid() async throws {}
    public func onThrow<Err: Error>(error: Err) async throws {}
}
