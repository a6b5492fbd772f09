/// A point in wall-clock time, in milliseconds since the Unix epoch. Wall time (not monotonic) because expiry
/// deadlines travel between nodes.
public struct Timestamp: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var milliseconds: Int64
    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.milliseconds < rhs.milliseconds }

    public func adding(seconds: UInt32) -> Timestamp { Timestamp(milliseconds: milliseconds + Int64(seconds) * 1000) }
    public func adding(milliseconds ms: Int64) -> Timestamp { Timestamp(milliseconds: milliseconds + ms) }

    /// Whole seconds from `self` until `later`, rounded up, never negative.
    public func secondsUntil(_ later: Timestamp) -> UInt32 {
        let delta = later.milliseconds - milliseconds
        guard delta > 0 else { return 0 }
        return UInt32(min((delta + 999) / 1000, Int64(UInt32.max)))
    }

    public var description: String { "\(milliseconds)ms" }
}

/// The broker's source of time. Pure state machines take a `Timestamp` argument; shells read it from a clock.
public protocol BrokerClock: Sendable {
    func now() -> Timestamp
}

/// The real wall clock.
public struct SystemClock: BrokerClock {
    public init() {}
    public func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(milliseconds: Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
