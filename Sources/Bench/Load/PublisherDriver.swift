import MQTTClient
import MQTTCore
import NIOCore

/// Drives one publisher connection from its event loop: each turn asks the `PublishPacer` how many messages may go,
/// encodes that many into one buffer, flushes once, and then yields the loop (so acknowledgements and other
/// connections get their turn) before the next turn. It stops writing while the channel is not writable and
/// resumes on the writability change; QoS 1/2 turns also resume on acknowledgements. No task or promise is created
/// per message.
final class PublisherDriver: MQTTClientDelegate {
    struct Settings: Sendable {
        var index: UInt32
        var topic: TopicName
        var qos: MQTTQoS
        var payloadSize: Int
        var rate: Double
        var maxMessages: Int
        var inflight: Int
        var batch: Int
    }

    private let settings: Settings
    private let client: MQTTClient
    private let view: MQTTClient.LoopView
    private let stats: LoopStats
    private let finished: EventLoopPromise<Void>
    private var pacer: PublishPacer?
    private var turnScheduled = false
    private var wakeUp: Scheduled<Void>?
    private var stopped = false

    /// Completes when this publisher has stopped writing (deadline, message limit or lost connection).
    var finishedFuture: EventLoopFuture<Void> { finished.futureResult }

    init(settings: Settings, client: MQTTClient, stats: LoopStats) {
        self.settings = settings
        self.client = client
        self.view = client.onLoop()
        self.stats = stats
        self.finished = client.eventLoop.makePromise()
        view.delegate = self
    }

    /// Starts writing now; stops at `deadline` (CLOCK_MONOTONIC nanoseconds) at the latest.
    func start(deadline: UInt64) {
        let now = MonotonicClock.now()
        let inflight = settings.qos == .atMostOnce ? Int.max : min(settings.inflight, view.sendQuota)
        pacer = PublishPacer(
            rate: settings.rate, batchLimit: settings.batch, inflightLimit: inflight,
            maxMessages: settings.maxMessages, start: now, deadline: deadline)
        let bound = NIOLoopBound(self, eventLoop: client.eventLoop)
        client.eventLoop.scheduleTask(deadline: .uptimeNanoseconds(deadline)) { bound.value.stop() }
        turn()
    }

    private func turn() {
        turnScheduled = false
        guard !stopped, var pacer else { return }
        let now = MonotonicClock.now()
        switch pacer.next(now: now, inflight: settings.qos == .atMostOnce ? 0 : view.outstandingPublishes) {
        case .done: stop()
        case .waitForAcks: break  // mqttClient(didComplete:) schedules the next turn
        case .waitUntil(let time):
            guard wakeUp == nil else { return }
            let bound = NIOLoopBound(self, eventLoop: client.eventLoop)
            wakeUp = client.eventLoop.scheduleTask(deadline: .uptimeNanoseconds(time)) {
                bound.value.wakeUp = nil
                bound.value.turn()
            }
        case .send(let count):
            guard view.isWritable else { return }  // mqttClient(writabilityChanged:) schedules the next turn
            writeBatch(count, now: now, sequence: UInt32(truncatingIfNeeded: pacer.sent))
            pacer.didSend(count)
            self.pacer = pacer
            stats.counters.sent += UInt64(count)
            scheduleTurn()
        }
    }

    private func writeBatch(_ count: Int, now: UInt64, sequence: UInt32) {
        let size = max(settings.payloadSize, BenchPayload.headerSize)
        // All payloads go into one buffer first; the PUBLISHes then carry slices of it, so no buffer is allocated
        // per message (the encoder copies each payload into the connection's outgoing buffer).
        var arena = client.channel.allocator.buffer(capacity: size * count)
        for offset in 0..<count {
            BenchPayload(sentNanos: now, publisher: settings.index, sequence: sequence &+ UInt32(offset))
                .write(into: &arena, size: size)
        }
        for _ in 0..<count {
            view.write(MQTTPacket.Publish(topic: settings.topic, payload: arena.readSlice(length: size)!, qos: settings.qos))
        }
        view.flush()
    }

    private func scheduleTurn() {
        guard !turnScheduled, !stopped else { return }
        turnScheduled = true
        let bound = NIOLoopBound(self, eventLoop: client.eventLoop)
        client.eventLoop.execute { bound.value.turn() }
    }

    private func stop() {
        guard !stopped else { return }
        stopped = true
        wakeUp?.cancel()
        wakeUp = nil
        finished.succeed()
    }

    // MARK: MQTTClientDelegate

    func mqttClient(didComplete result: MQTTClient.PublishResult) {
        stats.counters.acked += 1
        if result.reasonCode.isFailure { stats.counters.ackFailures += 1 }
        scheduleTurn()
    }

    func mqttClient(writabilityChanged isWritable: Bool) {
        if isWritable { scheduleTurn() }
    }

    func mqttClient(didClose info: MQTTClient.CloseInfo) {
        if !stopped { stats.counters.connectionsLost += 1 }
        stop()
    }
}
