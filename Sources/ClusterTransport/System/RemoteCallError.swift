import Distributed

/// Why a remote call failed. Crosses the wire (a callee reports `actorNotFound`, `moved`, … to its caller), so it is
/// `Codable`; `file` and `line` say where the error was raised on the node that raised it.
public struct RemoteCallError: DistributedActorSystemError, Codable, Hashable, CustomStringConvertible {
    public enum Code: UInt8, Codable, Sendable, Hashable {
        /// No reply within the call's deadline.
        case timedOut = 1
        /// The peer is down, unknown, or the connection to it was lost while the call was pending.
        case peerUnreachable = 2
        /// No actor with this ID exists on the recipient (or the ID's incarnation is dead).
        case actorNotFound = 3
        /// Arguments, result or envelope could not be encoded or decoded.
        case serializationFailed = 4
        /// The callee threw an error whose type is not allow-listed; `detail` names its type.
        case remoteThrew = 5
        /// The outbound queue to the peer is full: the call fails now instead of piling up.
        case overloaded = 6
        /// The target is not a distributed function of the recipient's type, or a type name is not allow-listed.
        case targetRejected = 7
        /// The recipient no longer owns the key; `detail` names the owner it knows, if any.
        case moved = 8
        /// No member can own the key (no broker is up).
        case noOwner = 9
        /// The system is shutting down.
        case shutDown = 10
    }

    public let code: Code
    public let detail: String
    public let file: String
    public let line: UInt

    public init(_ code: Code, _ detail: String = "", file: String = #fileID, line: UInt = #line) {
        self.code = code
        self.detail = detail
        self.file = file
        self.line = line
    }

    public var description: String {
        detail.isEmpty ? "RemoteCallError.\(code) (\(file):\(line))" : "RemoteCallError.\(code): \(detail) (\(file):\(line))"
    }

    public static func == (lhs: RemoteCallError, rhs: RemoteCallError) -> Bool {
        lhs.code == rhs.code && lhs.detail == rhs.detail
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(detail)
    }
}
