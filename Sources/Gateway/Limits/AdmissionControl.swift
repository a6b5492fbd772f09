import NIOCore

/// Whether a new client connection is let in: at most `maxConnections` open at once, and at most `ratePerSecond`
/// new connections per source IP (a token bucket per address, `burst` deep). Pure: the time is passed in.
///
/// The table of source addresses is bounded: past `maxTrackedAddresses`, addresses whose bucket has refilled (they
/// have been quiet long enough to be forgotten without changing any decision) are dropped; if all are busy, the
/// new address is refused as rate-limited rather than growing the table, so a flood of spoofed-looking sources
/// costs bounded memory.
struct AdmissionControl: Sendable {
    struct Configuration: Sendable, Equatable {
        /// 0: no limit.
        var maxConnections: Int
        /// New connections per second per source IP; 0: no limit.
        var ratePerSecond: Double
        /// How many may arrive at once before the rate applies.
        var burst: Double
        var maxTrackedAddresses = 100_000
    }

    enum Decision: Equatable, Sendable {
        case admit
        case refuse(Reason)
    }

    enum Reason: String, Sendable {
        case maxConnections = "max-connections"
        case rateLimited = "rate-limited"
    }

    private struct Bucket: Sendable {
        var tokens: Double
        var updated: NIODeadline
    }

    let configuration: Configuration
    private(set) var open = 0
    private var buckets: [String: Bucket] = [:]

    init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Source addresses currently tracked.
    var trackedAddresses: Int { buckets.count }

    /// Decides for a connection from `address` at `now`; an admitted connection counts as open until `closed()`.
    mutating func admit(address: String, now: NIODeadline) -> Decision {
        if configuration.maxConnections > 0, open >= configuration.maxConnections { return .refuse(.maxConnections) }
        if configuration.ratePerSecond > 0 {
            var bucket = buckets[address] ?? Bucket(tokens: configuration.burst, updated: now)
            refill(&bucket, now: now)
            guard bucket.tokens >= 1 else {
                buckets[address] = bucket
                return .refuse(.rateLimited)
            }
            if buckets[address] == nil, buckets.count >= configuration.maxTrackedAddresses {
                forgetQuietAddresses(now: now)
                guard buckets.count < configuration.maxTrackedAddresses else { return .refuse(.rateLimited) }
            }
            bucket.tokens -= 1
            buckets[address] = bucket
        }
        open += 1
        return .admit
    }

    /// An admitted connection closed.
    mutating func closed() {
        open = max(0, open - 1)
    }

    private func refill(_ bucket: inout Bucket, now: NIODeadline) {
        guard now > bucket.updated else { return }
        let seconds = Double((now - bucket.updated).nanoseconds) / 1e9
        bucket.tokens = min(configuration.burst, bucket.tokens + seconds * configuration.ratePerSecond)
        bucket.updated = now
    }

    private mutating func forgetQuietAddresses(now: NIODeadline) {
        buckets = buckets.filter { _, bucket in
            var bucket = bucket
            refill(&bucket, now: now)
            return bucket.tokens < configuration.burst
        }
    }
}
