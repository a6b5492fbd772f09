import NIOCore

/// The counters of every publisher and subscriber that runs on one event loop. Only that loop touches it, so the
/// hot path takes no lock; the runner reads it through `snapshot()` on the loop.
final class LoopStats {
    var counters = LoadCounters()
    var histogram = LatencyHistogram()

    func snapshot(withHistogram: Bool) -> LoadSnapshot {
        LoadSnapshot(counters: counters, histogram: withHistogram ? histogram : nil)
    }
}

/// Counts that add up across loops.
struct LoadCounters: Sendable, Equatable {
    var sent: UInt64 = 0
    var acked: UInt64 = 0
    var ackFailures: UInt64 = 0
    var received: UInt64 = 0
    var duplicates: UInt64 = 0
    var outOfOrder: UInt64 = 0
    /// Numbers a subscriber's sequence window gave up on (see `SequenceTracker`).
    var skipped: UInt64 = 0
    /// Messages whose payload had no benchmark header.
    var foreign: UInt64 = 0
    /// Connections that closed before the run ended.
    var connectionsLost: UInt64 = 0
    /// CLOCK_MONOTONIC nanoseconds of the last message received; 0 when none.
    var lastReceive: UInt64 = 0

    var unique: UInt64 { received - duplicates }

    mutating func add(_ other: LoadCounters) {
        sent += other.sent
        acked += other.acked
        ackFailures += other.ackFailures
        received += other.received
        duplicates += other.duplicates
        outOfOrder += other.outOfOrder
        skipped += other.skipped
        foreign += other.foreign
        connectionsLost += other.connectionsLost
        lastReceive = max(lastReceive, other.lastReceive)
    }
}

struct LoadSnapshot: Sendable {
    var counters: LoadCounters
    var histogram: LatencyHistogram?

    static func merged(_ snapshots: [LoadSnapshot]) -> LoadSnapshot {
        var result = LoadSnapshot(counters: .init(), histogram: nil)
        for snapshot in snapshots {
            result.counters.add(snapshot.counters)
            if let histogram = snapshot.histogram {
                if result.histogram == nil { result.histogram = histogram } else { result.histogram!.merge(histogram) }
            }
        }
        return result
    }
}
