import Distributed
import NIOCore

/// Records a remote call's generic substitutions (by registered name) and arguments (binary-coded, in order).
public struct ClusterInvocationEncoder: DistributedTargetInvocationEncoder {
    public typealias SerializationRequirement = any Codable

    let types: TypeRegistry
    var substitutions: [String] = []
    var arguments = ByteBuffer()

    init(types: TypeRegistry) { self.types = types }

    public mutating func recordGenericSubstitution<T>(_ type: T.Type) throws {
        guard let name = types.name(of: type) else {
            throw RemoteCallError(.targetRejected, "generic substitution \(String(reflecting: T.self)) is not registered")
        }
        substitutions.append(name)
    }

    public mutating func recordArgument<Value: Codable>(_ argument: RemoteCallArgument<Value>) throws {
        do {
            try BinaryEncoder().encode(argument.value, into: &arguments)
        } catch {
            throw RemoteCallError(.serializationFailed, "argument \(argument.effectiveLabel): \(error)")
        }
    }

    public mutating func recordErrorType<E: Error>(_ type: E.Type) throws {}
    public mutating func recordReturnType<R: Codable>(_ type: R.Type) throws {}
    public mutating func doneRecording() throws {}
}

/// Hands the recipient's runtime the substitutions (already resolved through the allow-list) and the arguments.
public struct ClusterInvocationDecoder: DistributedTargetInvocationDecoder {
    public typealias SerializationRequirement = any Codable

    let substitutions: [TypeRegistry.Entry]
    var arguments: ByteBuffer
    let decoder: BinaryDecoder

    public mutating func decodeGenericSubstitutions() throws -> [any Any.Type] {
        substitutions.map(\.type)
    }

    public mutating func decodeNextArgument<Argument: Codable>() throws -> Argument {
        do {
            return try decoder.decode(Argument.self, from: &arguments)
        } catch let error as RemoteCallError {
            throw error
        } catch {
            throw RemoteCallError(.serializationFailed, "argument of type \(Argument.self): \(error)")
        }
    }

    public mutating func decodeErrorType() throws -> (any Any.Type)? { nil }
    public mutating func decodeReturnType() throws -> (any Any.Type)? { nil }
}

/// What a call produced, as it travels back to the caller.
enum CallOutcome: Sendable {
    case void
    case value(ByteBuffer)
    /// An allow-listed error: its registered type name and its encoding.
    case error(String, ByteBuffer)
    case systemError(RemoteCallError)
}

/// Turns the recipient's return value or error into a `CallOutcome` and hands it to `complete`.
public struct ClusterResultHandler: DistributedTargetInvocationResultHandler {
    public typealias SerializationRequirement = any Codable

    let types: TypeRegistry
    let complete: @Sendable (CallOutcome) -> Void

    public func onReturn<Success: Codable>(value: Success) async throws {
        var buffer = ByteBuffer()
        do {
            try BinaryEncoder().encode(value, into: &buffer)
            complete(.value(buffer))
        } catch {
            complete(.systemError(RemoteCallError(.serializationFailed, "result of type \(Success.self): \(error)")))
        }
    }

    public func onReturnVoid() async throws {
        complete(.void)
    }

    public func onThrow<Err: Error>(error: Err) async throws {
        complete(Self.outcome(of: error, types: types))
    }

    /// The runtime passes errors as existentials, so the dynamic type is taken from `error as Any`.
    static func outcome(of error: any Error, types: TypeRegistry) -> CallOutcome {
        if let system = error as? RemoteCallError { return .systemError(system) }
        let dynamicType = type(of: error as Any)
        if let name = types.name(of: dynamicType), types.entry(named: name)?.decodeError != nil,
            let encodable = error as? any Encodable
        {
            var buffer = ByteBuffer()
            if (try? BinaryEncoder().encode(encodable, into: &buffer)) != nil { return .error(name, buffer) }
        }
        return .systemError(RemoteCallError(.remoteThrew, String(reflecting: dynamicType)))
    }
}
