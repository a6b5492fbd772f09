import Synchronization

/// Runs `callers` concurrent loops of calls until `calls` calls are done or `seconds` have passed, timing each one.
struct RPCDriver {
    let callers: Int
    let calls: Int
    let seconds: Double
    let call: RPCWorkload

    struct Report {
        let completed: Int
        let elapsed: Double
        let latency: LatencyHistogram
        let callers: Int

        var callsPerSecond: Double { elapsed > 0 ? Double(completed) / elapsed : 0 }

        func print(mode: String, lz4: Bool, messagesPerCall: Int, bytesPerCall: Int) {
            let micros = { (value: UInt64) in Double(value) / 1000 }
            Output.line(
                "rpc \(mode) callers=\(callers) lz4=\(lz4): \(completed) calls in \(JSONLine.format(elapsed, decimals: 2)) s = "
                    + "\(Int(callsPerSecond)) calls/s, p50 \(JSONLine.format(micros(latency.value(atPercentile: 50)), decimals: 1)) µs, "
                    + "p99 \(JSONLine.format(micros(latency.value(atPercentile: 99)), decimals: 1)) µs")
            var json = JSONLine()
            json.add("scenario", "rpc")
            json.add("mode", mode)
            json.add("callers", callers)
            json.add("lz4", lz4)
            json.add("calls", completed)
            json.add("seconds", elapsed, decimals: 3)
            json.add("calls_per_s", callsPerSecond, decimals: 0)
            json.add("messages_per_s", callsPerSecond * Double(messagesPerCall), decimals: 0)
            json.add("mb_per_s", callsPerSecond * Double(bytesPerCall) / 1_048_576, decimals: 1)
            json.add("p50_us", micros(latency.value(atPercentile: 50)), decimals: 1)
            json.add("p90_us", micros(latency.value(atPercentile: 90)), decimals: 1)
            json.add("p99_us", micros(latency.value(atPercentile: 99)), decimals: 1)
            json.add("max_us", micros(latency.max), decimals: 1)
            Output.line("RESULT " + json.text)
        }
    }

    func run() async throws -> Report {
        let tickets = Tickets()
        let start = MonotonicClock.now()
        let deadline = start + UInt64(seconds * 1e9)
        let histograms = try await withThrowingTaskGroup(of: LatencyHistogram.self) { group in
            for _ in 0..<callers {
                group.addTask { [call, calls] in
                    var histogram = LatencyHistogram()
                    while true {
                        let index = tickets.take()
                        guard index < calls else { break }
                        let before = MonotonicClock.now()
                        guard before < deadline else { break }
                        try await call.run(index)
                        histogram.record(MonotonicClock.now() - before)
                    }
                    return histogram
                }
            }
            var merged = LatencyHistogram()
            for try await histogram in group { merged.merge(histogram) }
            return merged
        }
        let elapsed = MonotonicClock.seconds(from: start, to: MonotonicClock.now())
        return Report(completed: Int(histograms.total), elapsed: elapsed, latency: histograms, callers: callers)
    }
}

/// Hands out call indices to concurrent callers.
private final class Tickets: Sendable {
    private let next = Atomic<Int>(0)
    func take() -> Int { next.add(1, ordering: .relaxed).oldValue }
}
