import NIOCore
import Synchronization

/// The types that may cross the wire by name: generic substitutions of distributed functions, and errors a callee
/// may throw back to its caller. A peer's type name is only ever looked up here, never handed to the runtime's
/// `_typeByName`, so a crafted frame cannot make this process instantiate arbitrary types.
public final class TypeRegistry: Sendable {
    /// A metatype, which is immutable; boxed so it can leave the lock.
    struct Entry: @unchecked Sendable {
        let type: Any.Type
        let decodeError: (@Sendable (inout ByteBuffer, BinaryDecoder) throws -> any Error)?
    }

    private struct Tables {
        var byName: [String: Entry] = [:]
        var names: [ObjectIdentifier: String] = [:]
    }

    private let tables = Mutex(Tables())

    init() {
        register(Int.self)
        register(Int64.self)
        register(UInt64.self)
        register(Int32.self)
        register(Double.self)
        register(Bool.self)
        register(String.self)
        register([UInt8].self)
        register([Int].self)
        register([String].self)
        registerError(RemoteCallError.self)
    }

    /// Allows `T` as a generic substitution of distributed functions.
    public func register<T>(_ type: T.Type) {
        add(type, Entry(type: type, decodeError: nil))
    }

    /// Allows errors of type `E` to cross the wire: a callee that throws one has it re-thrown, typed, at the caller.
    /// Errors of other types arrive as `RemoteCallError.remoteThrew` with the type's name.
    public func registerError<E: Error & Codable>(_ type: E.Type) {
        add(type, Entry(type: type, decodeError: { buffer, decoder in try decoder.decode(E.self, from: &buffer) }))
    }

    func name(of type: Any.Type) -> String? {
        tables.withLock { $0.names[ObjectIdentifier(type)] }
    }

    func entry(named name: String) -> Entry? {
        tables.withLock { $0.byName[name] }
    }

    private func add(_ type: Any.Type, _ entry: Entry) {
        let name = String(reflecting: type)
        tables.withLock { tables in
            tables.byName[name] = entry
            tables.names[ObjectIdentifier(type)] = name
        }
    }
}
