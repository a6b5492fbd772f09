import NIOCore
import Testing

@testable import Gateway

@Suite("admission control")
struct AdmissionControlTests {
    static func at(_ milliseconds: Int64) -> NIODeadline { .uptimeNanoseconds(UInt64(1_000_000_000 + milliseconds * 1_000_000)) }

    @Test("at most maxConnections open; a close makes room")
    func maxConnections() {
        var control = AdmissionControl(configuration: .init(maxConnections: 2, ratePerSecond: 0, burst: 0))
        #expect(control.admit(address: "a", now: Self.at(0)) == .admit)
        #expect(control.admit(address: "b", now: Self.at(0)) == .admit)
        #expect(control.admit(address: "c", now: Self.at(0)) == .refuse(.maxConnections))
        control.closed()
        #expect(control.admit(address: "c", now: Self.at(0)) == .admit)
        #expect(control.open == 2)
    }

    @Test("per source IP: a burst, then the rate; other addresses are not affected")
    func rate() {
        var control = AdmissionControl(configuration: .init(maxConnections: 0, ratePerSecond: 10, burst: 3))
        for _ in 0..<3 { #expect(control.admit(address: "10.0.0.1", now: Self.at(0)) == .admit) }
        #expect(control.admit(address: "10.0.0.1", now: Self.at(0)) == .refuse(.rateLimited))
        #expect(control.admit(address: "10.0.0.2", now: Self.at(0)) == .admit)
        #expect(control.admit(address: "10.0.0.1", now: Self.at(50)) == .refuse(.rateLimited), "half a token")
        #expect(control.admit(address: "10.0.0.1", now: Self.at(100)) == .admit, "one token after 100 ms at 10/s")
        #expect(control.admit(address: "10.0.0.1", now: Self.at(100)) == .refuse(.rateLimited))
        // Over a long run the admitted count follows the rate: 10 s at 10/s → about 100 (+ the burst).
        var admitted = 0
        for step in 0..<1000 where control.admit(address: "10.0.0.3", now: Self.at(Int64(step) * 10)) == .admit {
            admitted += 1
        }
        #expect((100...104).contains(admitted), "\(admitted)")
    }

    @Test("the address table stays bounded: quiet addresses are forgotten, and with none quiet a new one is refused")
    func boundedTable() {
        var control = AdmissionControl(
            configuration: .init(maxConnections: 0, ratePerSecond: 1, burst: 2, maxTrackedAddresses: 100))
        for k in 0..<100 { #expect(control.admit(address: "a\(k)", now: Self.at(0)) == .admit) }
        #expect(control.trackedAddresses == 100)
        #expect(control.admit(address: "new", now: Self.at(0)) == .refuse(.rateLimited), "every bucket still draining")
        #expect(control.trackedAddresses == 100)
        // A second later every bucket has refilled: they are forgotten and the new address gets in.
        #expect(control.admit(address: "new", now: Self.at(1000)) == .admit)
        #expect(control.trackedAddresses == 1)
    }
}
