/// The outcome of a publish/subscribe run: the human summary and the RESULT line.
struct LoadReport {
    let plan: LoadPlan
    let load: LoadOptions
    let version: ProtocolVersionArgument
    let publishers: Int
    let subscribers: Int
    let snapshot: LoadSnapshot
    let start: UInt64
    let publishEnd: UInt64
    /// Whether everything expected arrived before the drain time ran out.
    let drained: Bool

    var counters: LoadCounters { snapshot.counters }
    var histogram: LatencyHistogram { snapshot.histogram ?? LatencyHistogram() }
    var expected: UInt64 { counters.sent * UInt64(plan.subscribersPerPublisher) }
    var lost: UInt64 { expected > counters.unique ? expected - counters.unique : 0 }
    var publishSeconds: Double { MonotonicClock.seconds(from: start, to: publishEnd) }
    /// From the first publish to the last message received.
    var receiveSeconds: Double { MonotonicClock.seconds(from: start, to: max(counters.lastReceive, start)) }
    var receivedPerSecond: Double { receiveSeconds > 0 ? Double(counters.received) / receiveSeconds : 0 }
    var sentPerSecond: Double { publishSeconds > 0 ? Double(counters.sent) / publishSeconds : 0 }

    func latencyMicroseconds(_ percentile: Double) -> Double {
        Double(histogram.value(atPercentile: percentile)) / 1000
    }

    var summary: [String] {
        let c = counters
        return [
            "scenario \(plan.scenario): \(publishers) publishers, \(subscribers) subscribers, qos \(load.qos), "
                + "\(load.size) B, MQTT \(version.rawValue)",
            "sent \(c.sent) in \(JSONLine.format(publishSeconds, decimals: 2)) s "
                + "(\(JSONLine.format(sentPerSecond, decimals: 0))/s), acked \(c.acked), ack failures \(c.ackFailures)",
            "received \(c.received) of \(expected) expected (\(JSONLine.format(receivedPerSecond, decimals: 0))/s); "
                + "lost \(lost), duplicates \(c.duplicates), out of order \(c.outOfOrder)"
                + (drained ? "" : " (drain time ran out)"),
            "latency p50 \(JSONLine.format(latencyMicroseconds(50), decimals: 1)) us, "
                + "p99 \(JSONLine.format(latencyMicroseconds(99), decimals: 1)) us, "
                + "p99.9 \(JSONLine.format(latencyMicroseconds(99.9), decimals: 1)) us, "
                + "max \(JSONLine.format(Double(histogram.max) / 1000, decimals: 1)) us",
        ] + (c.connectionsLost > 0 || c.foreign > 0
            ? ["connections lost \(c.connectionsLost), foreign messages \(c.foreign)"] : [])
    }

    var resultLine: String {
        let c = counters
        var json = JSONLine()
        json.add("scenario", plan.scenario)
        json.add("version", version.rawValue)
        json.add("qos", load.qos)
        json.add("size", load.size)
        json.add("publishers", publishers)
        json.add("subscribers", subscribers)
        json.add("rate_per_publisher", load.rate, decimals: 1)
        json.add("duration_s", publishSeconds, decimals: 3)
        json.add("sent", c.sent)
        json.add("acked", c.acked)
        json.add("ack_failures", c.ackFailures)
        json.add("received", c.received)
        json.add("expected", expected)
        json.add("lost", lost)
        json.add("duplicates", c.duplicates)
        json.add("out_of_order", c.outOfOrder)
        json.add("connections_lost", c.connectionsLost)
        json.add("drained", drained)
        json.add("sent_per_sec", sentPerSecond, decimals: 0)
        json.add("msgs_per_sec", receivedPerSecond, decimals: 0)
        json.add("latency_p50_us", latencyMicroseconds(50))
        json.add("latency_p99_us", latencyMicroseconds(99))
        json.add("latency_p999_us", latencyMicroseconds(99.9))
        json.add("latency_max_us", Double(histogram.max) / 1000)
        json.add("latency_mean_us", histogram.mean / 1000)
        return "RESULT " + json.text
    }

    func print() {
        if !load.json { summary.forEach(Output.line) }
        Output.line(resultLine)
    }
}
