/// Decides how many messages one publisher may write now: at most `batchLimit` at a time, no more than `rate` per
/// second since `start` (0 means unlimited), at most `inflightLimit` QoS 1/2 messages unacknowledged, at most
/// `maxMessages` in all, and nothing at or after `deadline`. Pure: the caller passes the time in.
struct PublishPacer {
    enum Decision: Equatable {
        case send(Int)
        /// The rate allows nothing yet; ask again at this time (nanoseconds).
        case waitUntil(UInt64)
        /// The in-flight window is full; ask again when an acknowledgement arrives.
        case waitForAcks
        case done
    }

    let rate: Double
    let batchLimit: Int
    let inflightLimit: Int
    let maxMessages: Int
    let start: UInt64
    let deadline: UInt64
    /// The pacer never asks to be woken sooner than this after `now` (nanoseconds).
    let minimumWait: UInt64 = 1_000_000
    private(set) var sent = 0

    init(rate: Double, batchLimit: Int, inflightLimit: Int, maxMessages: Int, start: UInt64, deadline: UInt64) {
        self.rate = rate
        self.batchLimit = batchLimit
        self.inflightLimit = inflightLimit
        self.maxMessages = maxMessages
        self.start = start
        self.deadline = deadline
    }

    func next(now: UInt64, inflight: Int) -> Decision {
        if now >= deadline || sent >= maxMessages { return .done }
        var allowed = min(batchLimit, maxMessages - sent)
        if rate > 0 {
            let elapsed = Double(now &- start) / 1e9
            let due = Int((elapsed * rate).rounded(.down)) + 1 - sent
            if due <= 0 {
                let nextAt = start + UInt64((Double(sent) / rate * 1e9).rounded(.up))
                return .waitUntil(min(max(nextAt, now + minimumWait), deadline))
            }
            allowed = min(allowed, due)
        }
        let window = inflightLimit - inflight
        if window <= 0 { return .waitForAcks }
        return .send(min(allowed, window))
    }

    mutating func didSend(_ count: Int) { sent += count }
}
