/// A log-linear histogram of nanosecond values with bounded memory (about 18 KB): values below 128 ns are exact,
/// and each power-of-two range above is split into 64 equal buckets, so a reported value is within 1/64 (1.6 %)
/// of the truth. Values beyond 2^41 ns (about 36 minutes) land in the last bucket. The exact maximum is kept.
struct LatencyHistogram: Sendable, Equatable {
    private static let linearLimit: UInt64 = 128
    private static let subBuckets = 64
    private static let subBucketBits = 6
    private static let maxMagnitude = 40
    static let bucketCount = Int(linearLimit) + (maxMagnitude - 7 + 1) * subBuckets

    private(set) var counts: [UInt64]
    private(set) var total: UInt64 = 0
    private(set) var max: UInt64 = 0
    private(set) var sum: Double = 0

    init() { counts = Array(repeating: 0, count: Self.bucketCount) }

    static func bucket(of value: UInt64) -> Int {
        if value < linearLimit { return Int(value) }
        let magnitude = Swift.min(63 - value.leadingZeroBitCount, maxMagnitude)  // >= 7
        if magnitude == maxMagnitude, value >> magnitude > 1 { return bucketCount - 1 }
        let sub = Int((value >> UInt64(magnitude - subBucketBits)) & UInt64(subBuckets - 1))
        return Int(linearLimit) + (magnitude - 7) * subBuckets + sub
    }

    /// The middle of a bucket's range (its value for bucket below 128).
    static func representativeValue(of bucket: Int) -> UInt64 {
        if bucket < Int(linearLimit) { return UInt64(bucket) }
        let offset = bucket - Int(linearLimit)
        let magnitude = offset / subBuckets + 7
        let sub = UInt64(offset % subBuckets)
        let width = UInt64(1) << UInt64(magnitude - subBucketBits)
        return (UInt64(subBuckets) + sub) * width + width / 2
    }

    mutating func record(_ value: UInt64) {
        counts[Self.bucket(of: value)] &+= 1
        total &+= 1
        sum += Double(value)
        if value > max { max = value }
    }

    mutating func merge(_ other: LatencyHistogram) {
        for index in counts.indices { counts[index] &+= other.counts[index] }
        total &+= other.total
        sum += other.sum
        max = Swift.max(max, other.max)
    }

    /// The value at `percentile` (0...100); 0 when empty. Never above the recorded maximum.
    func value(atPercentile percentile: Double) -> UInt64 {
        guard total > 0 else { return 0 }
        let rank = Swift.max(1, UInt64((percentile / 100 * Double(total)).rounded(.up)))
        var seen: UInt64 = 0
        for (bucket, count) in counts.enumerated() where count > 0 {
            seen += count
            if seen >= rank { return Swift.min(Self.representativeValue(of: bucket), max) }
        }
        return max
    }

    var mean: Double { total == 0 ? 0 : sum / Double(total) }
}
