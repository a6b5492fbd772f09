import NIOCore

/// One event loop and its stats.
struct BenchLoop: Sendable {
    let eventLoop: any EventLoop
    let stats: NIOLoopBound<LoopStats>

    /// Creates one `LoopStats` per loop of the group.
    static func all(of group: any EventLoopGroup) async throws -> [BenchLoop] {
        var loops: [BenchLoop] = []
        for eventLoop in group.makeIterator() {
            let stats = try await eventLoop.submit { NIOLoopBound(LoopStats(), eventLoop: eventLoop) }.get()
            loops.append(BenchLoop(eventLoop: eventLoop, stats: stats))
        }
        return loops
    }

    static func snapshot(_ loops: [BenchLoop], withHistogram: Bool) async throws -> LoadSnapshot {
        var snapshots: [LoadSnapshot] = []
        for loop in loops {
            let stats = loop.stats
            snapshots.append(try await loop.eventLoop.submit { stats.value.snapshot(withHistogram: withHistogram) }.get())
        }
        return LoadSnapshot.merged(snapshots)
    }
}
