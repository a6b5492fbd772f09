#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A node's name: stable across restarts, so ownership (which hashes the name) comes back to a restarted node.
/// 1 to 64 characters from `A-Z a-z 0-9 . _ - @` (EMQX-style names such as `starling@10.0.0.5` are valid).
public struct NodeName: ValidatedStringIdentifier, Comparable {
    public let rawValue: String

    public init?(_ rawValue: String) {
        guard (1...64).contains(rawValue.utf8.count),
            rawValue.utf8.allSatisfy({ byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
                    || byte == UInt8(ascii: "@")
            })
        else { return nil }
        self.rawValue = rawValue
    }


    public static func < (lhs: NodeName, rhs: NodeName) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// One boot of a node. A restarted node gets a new, larger incarnation (microseconds of wall-clock time at start),
/// so actors and members of the old incarnation count as dead.
public struct Incarnation: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// A new incarnation for this boot.
    public static func fresh() -> Incarnation {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Incarnation(rawValue: UInt64(time.tv_sec) * 1_000_000 + UInt64(time.tv_nsec / 1000))
    }

    public static func < (lhs: Incarnation, rhs: Incarnation) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { String(rawValue) }
}

/// A node as one boot: its name and incarnation.
public struct NodeID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let name: NodeName
    public let incarnation: Incarnation

    public init(name: NodeName, incarnation: Incarnation) {
        self.name = name
        self.incarnation = incarnation
    }

    public static func < (lhs: NodeID, rhs: NodeID) -> Bool {
        (lhs.name, lhs.incarnation) < (rhs.name, rhs.incarnation)
    }

    public var description: String { "\(name)#\(incarnation)" }
}
