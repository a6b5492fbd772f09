#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// Phi-accrual failure detector with hard bounds. Pure: the caller passes the time.
///
/// For each node it keeps the last `windowSize` intervals between heartbeats. `phi` is `-log10` of the probability
/// that a heartbeat would still come after the current silence, with the intervals taken as normally distributed
/// (mean + `acceptablePause`, standard deviation at least `minStdDev`; logistic approximation of the normal CDF).
/// A node is declared unreachable when phi reaches `phiThreshold`, but never before `heartbeatInterval +
/// acceptablePause` of silence, and always once the silence exceeds `maxSilence`.
public struct FailureDetector: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// How often peers send heartbeats; also the assumed interval before any was measured.
        public var heartbeatInterval: TimeAmount
        /// Added to the mean interval: pauses (GC-free Swift still has scheduling and network hiccups) tolerated.
        public var acceptablePause: TimeAmount
        /// Phi at which a node is declared unreachable (8: about one false verdict in 10^8 for normal intervals).
        public var phiThreshold: Double
        /// Lower bound of the standard deviation, so that very regular heartbeats don't make phi hair-triggered.
        public var minStdDev: TimeAmount
        /// Silence after which a node is declared whatever phi says.
        public var maxSilence: TimeAmount
        /// How many recent intervals are kept per node.
        public var windowSize: Int

        public init(
            heartbeatInterval: TimeAmount = .milliseconds(200),
            acceptablePause: TimeAmount = .milliseconds(500),
            phiThreshold: Double = 8,
            minStdDev: TimeAmount = .milliseconds(100),
            maxSilence: TimeAmount = .milliseconds(1500),
            windowSize: Int = 100
        ) {
            self.heartbeatInterval = heartbeatInterval
            self.acceptablePause = acceptablePause
            self.phiThreshold = phiThreshold
            self.minStdDev = minStdDev
            self.maxSilence = maxSilence
            self.windowSize = max(1, windowSize)
        }
    }

    /// Heartbeat history of one node.
    struct History: Sendable {
        var last: NIODeadline
        /// Intervals in nanoseconds, a ring of at most `windowSize`.
        var intervals: [Double] = []
        var next = 0
        var sum: Double = 0
        var sumOfSquares: Double = 0
        /// Reported by `check` and not heard from since.
        var reported = false

        mutating func add(_ interval: Double, windowSize: Int) {
            if intervals.count < windowSize {
                intervals.append(interval)
            } else {
                let old = intervals[next]
                sum -= old
                sumOfSquares -= old * old
                intervals[next] = interval
                next = (next + 1) % windowSize
            }
            sum += interval
            sumOfSquares += interval * interval
        }
    }

    public let configuration: Configuration
    var histories: [NodeID: History] = [:]

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    /// The nodes being watched.
    public var monitored: [NodeID] { histories.keys.sorted() }

    /// Records a heartbeat. The first one starts watching the node. A node reported unreachable becomes reachable
    /// again (the silence that got it reported is not counted as an interval).
    public mutating func heartbeat(from node: NodeID, at now: NIODeadline) {
        guard var history = histories[node] else {
            histories[node] = History(last: now)
            return
        }
        if history.reported {
            history.reported = false
        } else if now > history.last {
            history.add(Double((now - history.last).nanoseconds), windowSize: configuration.windowSize)
        }
        history.last = max(history.last, now)
        histories[node] = history
    }

    /// Stops watching a node.
    public mutating func forget(_ node: NodeID) {
        histories[node] = nil
    }

    /// The suspicion level of a node now: 0 for an unknown node, growing with the silence.
    public func phi(_ node: NodeID, now: NIODeadline) -> Double {
        guard let history = histories[node] else { return 0 }
        return phi(history, now: now)
    }

    /// The nodes that became unreachable since the last call, sorted; each is reported once, until it sends a
    /// heartbeat again.
    public mutating func check(now: NIODeadline) -> [NodeID] {
        var unreachable: [NodeID] = []
        let floor = configuration.heartbeatInterval + configuration.acceptablePause
        for (node, history) in histories where !history.reported {
            let silence = now - history.last
            if silence > configuration.maxSilence
                || (silence >= floor && phi(history, now: now) >= configuration.phiThreshold)
            {
                unreachable.append(node)
            }
        }
        unreachable.sort()
        for node in unreachable { histories[node]?.reported = true }
        return unreachable
    }

    func phi(_ history: History, now: NIODeadline) -> Double {
        guard now > history.last else { return 0 }
        let elapsed = Double((now - history.last).nanoseconds)
        let count = Double(history.intervals.count)
        let measuredMean = count > 0 ? history.sum / count : Double(configuration.heartbeatInterval.nanoseconds)
        let variance = count > 0 ? max(0, history.sumOfSquares / count - measuredMean * measuredMean) : 0
        let mean = measuredMean + Double(configuration.acceptablePause.nanoseconds)
        let deviation = max(variance.squareRoot(), Double(configuration.minStdDev.nanoseconds))
        let y = (elapsed - mean) / deviation
        let e = exp(-y * (1.5976 + 0.070566 * y * y))
        let phi = elapsed > mean ? -log10(e / (1 + e)) : -log10(1 - 1 / (1 + e))
        return phi.isFinite ? phi : .greatestFiniteMagnitude
    }
}
