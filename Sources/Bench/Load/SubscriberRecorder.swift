import MQTTClient
import MQTTCore
import NIOCore

/// Records what one subscriber connection receives, on its event loop: latency from the payload's send time, and
/// per publisher whether each sequence number is new, late or repeated.
final class SubscriberRecorder: MQTTClientDelegate {
    private let stats: LoopStats
    /// A class per publisher, so that the hot path does one dictionary lookup and mutates in place.
    private final class TrackerBox {
        var tracker = SequenceTracker()
    }

    private var trackers: [UInt32: TrackerBox] = [:]
    private var closedEarly = true

    init(stats: LoopStats) {
        self.stats = stats
    }

    /// Called before the runner disconnects on purpose, so that the close is not counted as lost.
    func finish() {
        closedEarly = false
    }

    func mqttClient(didReceive publish: MQTTPacket.Publish) {
        let now = MonotonicClock.now()
        guard let header = BenchPayload.read(from: publish.payload) else {
            stats.counters.foreign += 1
            return
        }
        stats.counters.received += 1
        stats.counters.lastReceive = now
        stats.histogram.record(now &- header.sentNanos)
        let box: TrackerBox
        if let existing = trackers[header.publisher] {
            box = existing
        } else {
            box = TrackerBox()
            trackers[header.publisher] = box
        }
        let skippedBefore = box.tracker.skipped
        switch box.tracker.observe(header.sequence) {
        case .inOrder: break
        case .outOfOrder: stats.counters.outOfOrder += 1
        case .duplicate: stats.counters.duplicates += 1
        }
        stats.counters.skipped += box.tracker.skipped - skippedBefore
    }

    func mqttClient(didClose info: MQTTClient.CloseInfo) {
        if closedEarly { stats.counters.connectionsLost += 1 }
    }
}
