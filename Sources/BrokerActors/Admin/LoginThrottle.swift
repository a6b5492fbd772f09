/// Slows down password guessing on the admin API: after `maxFailures` failed logins from one address within
/// `window`, that address is refused for `lockout` (HTTP 429), whatever it sends. Pure: the time is passed in
/// (seconds on any monotonic clock). The table is bounded: past `maxAddresses`, addresses with no recent failure
/// are forgotten first.
public struct LoginThrottle: Sendable {
    public struct Configuration: Sendable {
        public var maxFailures = 5
        public var window: Double = 60
        public var lockout: Double = 60
        public var maxAddresses = 10_000

        public init() {}
    }

    private struct Entry: Sendable {
        var failures: [Double] = []
        var lockedUntil: Double?
    }

    public let configuration: Configuration
    private var entries: [String: Entry] = [:]

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    /// Addresses with failures or a lockout on record.
    public var trackedAddresses: Int { entries.count }

    /// Whether `address` may try to log in at `now`.
    public func allows(_ address: String, now: Double) -> Bool {
        guard let until = entries[address]?.lockedUntil else { return true }
        return now >= until
    }

    /// A failed login from `address`: once there are `maxFailures` within `window`, it is locked out.
    public mutating func failed(_ address: String, now: Double) {
        if entries[address] == nil, entries.count >= configuration.maxAddresses { forgetQuiet(now: now) }
        var entry = entries[address] ?? Entry()
        entry.failures = entry.failures.filter { now - $0 < configuration.window } + [now]
        if entry.failures.count >= configuration.maxFailures {
            entry.lockedUntil = now + configuration.lockout
            entry.failures = []
        }
        entries[address] = entry
    }

    /// A successful login clears the address's failures.
    public mutating func succeeded(_ address: String) {
        entries[address] = nil
    }

    private mutating func forgetQuiet(now: Double) {
        entries = entries.filter { _, entry in
            (entry.lockedUntil.map { now < $0 } ?? false) || entry.failures.contains { now - $0 < configuration.window }
        }
    }
}
