import MQTTClient
import MQTTCore
import NIOCore
import NIOPosix

/// Runs one publish/subscribe scenario: connects and subscribes the subscribers, connects the publishers, lets them
/// publish for the duration (or up to the message limit), drains, and reports.
struct LoadRunner {
    let plan: LoadPlan
    let connection: ConnectionOptions
    let load: LoadOptions

    private struct Subscriber: Sendable {
        let client: MQTTClient
        let recorder: NIOLoopBound<SubscriberRecorder>
    }

    private struct Publisher: Sendable {
        let client: MQTTClient
        let driver: NIOLoopBound<PublisherDriver>
        let finished: EventLoopFuture<Void>
    }

    func run() async throws -> LoadReport {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: connection.threads ?? System.coreCount)
        do {
            let report = try await run(on: group)
            try await group.shutdownGracefully()
            return report
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private func run(on group: MultiThreadedEventLoopGroup) async throws -> LoadReport {
        let loops = try await BenchLoop.all(of: group)
        let subscribers = try await connectSubscribers(loops: loops, group: group)
        let publishers = try await connectPublishers(loops: loops, group: group)
        progress("connected \(subscribers.count) subscribers and \(publishers.count) publishers")

        let start = MonotonicClock.now()
        let deadline = start + UInt64(load.duration * 1e9)
        for publisher in publishers {
            let driver = publisher.driver
            driver.eventLoop.execute { driver.value.start(deadline: deadline) }
        }
        let reporter = Task { try await reportProgress(loops: loops, start: start) }
        try await EventLoopFuture.andAllComplete(publishers.map(\.finished), on: loops[0].eventLoop).get()
        let publishEnd = MonotonicClock.now()
        let drained = try await drain(loops: loops, until: publishEnd + UInt64(load.drain * 1e9))
        reporter.cancel()
        let final = try await BenchLoop.snapshot(loops, withHistogram: true)

        await closeAll(subscribers: subscribers, publishers: publishers)
        return LoadReport(
            plan: plan, load: load, version: connection.version, publishers: publishers.count,
            subscribers: subscribers.count, snapshot: final, start: start, publishEnd: publishEnd, drained: drained)
    }

    private func connectSubscribers(loops: [BenchLoop], group: any EventLoopGroup) async throws -> [Subscriber] {
        let qos = load.mqttQoS
        let connection = self.connection
        let filters = plan.subscriberFilters
        return try await concurrentMap(filters.count, limit: connection.connectConcurrency) { index in
            let loop = loops[index % loops.count]
            let (client, _) = try await MQTTClient.connect(
                connection.configuration(role: .sub, index: index), eventLoopGroup: group, eventLoop: loop.eventLoop)
            let stats = loop.stats
            let recorder = try await loop.eventLoop.submit {
                let recorder = SubscriberRecorder(stats: stats.value)
                client.onLoop().delegate = recorder
                return NIOLoopBound(recorder, eventLoop: loop.eventLoop)
            }.get()
            let ack = try await client.subscribe(to: filters[index], qos: qos)
            if let code = ack.reasonCodes.first, code.isFailure {
                throw BenchError("subscription to \(filters[index]) refused with \(code)")
            }
            return Subscriber(client: client, recorder: recorder)
        }
    }

    private func connectPublishers(loops: [BenchLoop], group: any EventLoopGroup) async throws -> [Publisher] {
        let connection = self.connection
        let topics = plan.publisherTopics
        let load = self.load
        return try await concurrentMap(topics.count, limit: connection.connectConcurrency) { index in
            // Publishers start on the loop after their subscriber's, so a pair does not share one loop.
            let loop = loops[(index + 1) % loops.count]
            let (client, _) = try await MQTTClient.connect(
                connection.configuration(role: .pub, index: index), eventLoopGroup: group, eventLoop: loop.eventLoop)
            let settings = PublisherDriver.Settings(
                index: UInt32(index), topic: topics[index], qos: load.mqttQoS, payloadSize: load.size,
                rate: load.rate, maxMessages: load.maxMessages, inflight: load.inflight, batch: load.batch)
            let stats = loop.stats
            let (driver, finished) = try await loop.eventLoop.submit {
                let driver = PublisherDriver(settings: settings, client: client, stats: stats.value)
                return (NIOLoopBound(driver, eventLoop: loop.eventLoop), driver.finishedFuture)
            }.get()
            return Publisher(client: client, driver: driver, finished: finished)
        }
    }

    /// Waits until every expected message (and, for QoS 1/2, every acknowledgement) arrived, or until `deadline`.
    private func drain(loops: [BenchLoop], until deadline: UInt64) async throws -> Bool {
        while true {
            let counters = try await BenchLoop.snapshot(loops, withHistogram: false).counters
            let expected = counters.sent * UInt64(plan.subscribersPerPublisher)
            let acked = load.qos == 0 || counters.acked >= counters.sent
            if counters.unique >= expected, acked { return true }
            if MonotonicClock.now() >= deadline { return false }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    private func reportProgress(loops: [BenchLoop], start: UInt64) async throws {
        guard !load.json else { return }
        var previous = LoadCounters()
        var second = 0
        while !Task.isCancelled {
            second += 1
            try await MonotonicClock.sleep(until: start + UInt64(second) * 1_000_000_000)
            let snapshot = try await BenchLoop.snapshot(loops, withHistogram: true)
            let counters = snapshot.counters
            let histogram = snapshot.histogram ?? LatencyHistogram()
            Output.line(
                "[\(pad(second, 4))s] sent \(pad(counters.sent - previous.sent, 8))/s"
                    + "  recv \(pad(counters.received - previous.received, 8))/s"
                    + "  total sent \(counters.sent) recv \(counters.received)"
                    + "  p50 \(microseconds(histogram.value(atPercentile: 50)))us"
                    + "  p99 \(microseconds(histogram.value(atPercentile: 99)))us")
            previous = counters
        }
    }

    /// Disconnects everyone; failures are ignored, the numbers are already taken.
    private func closeAll(subscribers: [Subscriber], publishers: [Publisher]) async {
        for subscriber in subscribers {
            let recorder = subscriber.recorder
            recorder.eventLoop.execute { recorder.value.finish() }
        }
        let clients = subscribers.map(\.client) + publishers.map(\.client)
        _ = try? await concurrentMap(clients.count, limit: 256) { index in
            try? await clients[index].disconnect()
        }
    }

    private func progress(_ text: String) {
        if !load.json { Output.line(text) }
    }
}
