import NIOCore
import Testing

@testable import ClusterTransport

private let watched = NodeID(name: NodeName("peer")!, incarnation: Incarnation(rawValue: 1))
private let other = NodeID(name: NodeName("other")!, incarnation: Incarnation(rawValue: 1))

private func at(_ milliseconds: Int64) -> NIODeadline { .uptimeNanoseconds(UInt64(milliseconds) * 1_000_000) }

/// Runs `detector.check` every `step` ms from `start` to `end` (inclusive); returns the times (ms) of reports.
private func checks(
    _ detector: inout FailureDetector, from start: Int64, to end: Int64, step: Int64 = 10,
    node: NodeID = watched
) -> [Int64] {
    var reports: [Int64] = []
    var time = start
    while time <= end {
        if detector.check(now: at(time)).contains(node) { reports.append(time) }
        time += step
    }
    return reports
}

@Suite struct FailureDetectorTests {
    /// Heartbeats every `interval` ms up to t = 10 s, then silence: reported once, after at least
    /// heartbeatInterval + acceptablePause and within maxSilence (plus one check step).
    @Test(arguments: [50, 200, 400] as [Int64])
    func silentNodeIsReportedOnceWithinMaxSilence(interval: Int64) throws {
        var detector = FailureDetector()
        var time: Int64 = 0
        var reports: [Int64] = []
        while time <= 10_000 {
            detector.heartbeat(from: watched, at: at(time))
            reports += checks(&detector, from: time + 1, to: time + interval - 1)
            time += interval
        }
        let last = time - interval
        #expect(reports.isEmpty)
        reports = checks(&detector, from: last + 1, to: last + 60_000, step: 1)
        #expect(reports.count == 1)
        let silence = try #require(reports.first) - last
        #expect(silence >= 700)
        #expect(silence <= 1501)
    }

    @Test func regularHeartbeatsAreNeverReported() {
        var detector = FailureDetector()
        var reports: [Int64] = []
        var time: Int64 = 0
        while time < 600_000 {
            detector.heartbeat(from: watched, at: at(time))
            reports += checks(&detector, from: time + 50, to: time + 199, step: 50)
            time += 200
        }
        #expect(reports.isEmpty)
        #expect(detector.phi(watched, now: at(time)) < 1)
    }

    /// Intervals drawn from 100...700 ms (seeded) and one 1 s stall (early, while the window is short) over 10
    /// simulated minutes.
    @Test(arguments: [11, 12, 13] as [UInt64])
    func slowButAliveNodeIsNeverReported(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var detector = FailureDetector()
        var reports: [Int64] = []
        var time: Int64 = 0
        var stalled = false
        var maxPhi = 0.0
        while time < 600_000 {
            detector.heartbeat(from: watched, at: at(time))
            var gap = Int64.random(in: 100...700, using: &random)
            if !stalled, time > 5_000 {  // early: few intervals measured yet
                gap = 1000
                stalled = true
            }
            var probe = time + 10
            while probe < time + gap {
                maxPhi = max(maxPhi, detector.phi(watched, now: at(probe)))
                if detector.check(now: at(probe)).contains(watched) { reports.append(probe) }
                probe += 10
            }
            time += gap
        }
        #expect(stalled)
        #expect(reports.isEmpty)
        #expect(maxPhi < FailureDetector.Configuration().phiThreshold)
    }

    @Test func nodeThatComesBackIsReportedAgainOnlyAfterANewSilence() {
        var detector = FailureDetector()
        for time in stride(from: Int64(0), through: 2000, by: 200) { detector.heartbeat(from: watched, at: at(time)) }
        #expect(checks(&detector, from: 2001, to: 6000).count == 1)
        // Back: heartbeats again for 10 s, never reported.
        var reports: [Int64] = []
        for time in stride(from: Int64(6000), through: 16_000, by: 200) {
            detector.heartbeat(from: watched, at: at(time))
            reports += checks(&detector, from: time + 10, to: time + 190)
        }
        #expect(reports.isEmpty)
        // Silent again: reported once more.
        let again = checks(&detector, from: 16_001, to: 30_000)
        #expect(again.count == 1)
        #expect((again.first ?? .max) - 16_000 <= 1501)
    }

    @Test func hardBoundsOverridePhi() {
        // A hair-trigger threshold still waits for heartbeatInterval + acceptablePause.
        var eager = FailureDetector(configuration: .init(phiThreshold: 0.000_001))
        eager.heartbeat(from: watched, at: at(0))
        #expect(checks(&eager, from: 1, to: 5000, step: 1) == [700])
        // An unreachable threshold is overridden by maxSilence.
        var lax = FailureDetector(configuration: .init(phiThreshold: 1e12))
        for time in stride(from: Int64(0), through: 1000, by: 100) { lax.heartbeat(from: watched, at: at(time)) }
        #expect(checks(&lax, from: 1001, to: 9000, step: 1) == [2501])
    }

    @Test func phiGrowsWithSilenceAndUnknownNodesAreZero() {
        var detector = FailureDetector()
        #expect(detector.phi(watched, now: at(1000)) == 0)
        for time in stride(from: Int64(0), through: 4000, by: 200) { detector.heartbeat(from: watched, at: at(time)) }
        var previous = -1.0
        for silence in stride(from: Int64(100), through: 3000, by: 100) {
            let phi = detector.phi(watched, now: at(4000 + silence))
            #expect(phi >= previous)
            #expect(phi.isFinite)
            previous = phi
        }
        #expect(previous >= 8)
        #expect(detector.phi(watched, now: at(4000 + 100)) < 1)
    }

    @Test func forgottenAndSeparateNodesAreIndependent() {
        var detector = FailureDetector()
        detector.heartbeat(from: watched, at: at(0))
        detector.heartbeat(from: other, at: at(0))
        detector.forget(other)
        #expect(detector.monitored == [watched])
        #expect(detector.check(now: at(10_000)) == [watched])
        #expect(detector.check(now: at(20_000)).isEmpty)
        // Two silent nodes are reported together, sorted.
        detector.heartbeat(from: other, at: at(20_000))
        detector.heartbeat(from: watched, at: at(20_000))
        #expect(detector.check(now: at(30_000)) == [other, watched])
    }
}
