import Foundation
import NIOCore
import Testing

@testable import ClusterTransport

private func local(_ services: [MemberService] = []) -> MembershipState {
    let id = NodeID(name: NodeName("a")!, incarnation: Incarnation(rawValue: 1))
    var state = MembershipState(
        local: Member(id: id, endpoint: Endpoint(host: "a.cluster", port: 7000)!, status: .joining, services: services))
    _ = state.setLocalStatus(.up)
    return state
}

private func service(_ name: String, _ port: Int) -> MemberService { MemberService(name: name, port: port)! }

@Suite struct MemberServiceTests {
    @Test("service names and ports are validated", arguments: [
        ("mqtt", 1883, true), ("ws", 8083, true), ("http-api", 18083, true), ("", 1, false), ("MQTT", 1, false),
        ("mqtt", 0, false), ("mqtt", 65_536, false), (String(repeating: "a", count: 33), 1, false), ("a b", 1, false),
    ])
    func validation(name: String, port: Int, valid: Bool) {
        #expect((MemberService(name: name, port: port) != nil) == valid)
    }

    @Test func recordsCarryServicesSortedAndUniqueThroughTheBinaryCodec() throws {
        let id = NodeID(name: NodeName("b")!, incarnation: Incarnation(rawValue: 3))
        let member = Member(
            id: id, endpoint: Endpoint(host: "b.cluster", port: 7000)!, status: .up,
            services: [service("ws", 8083), service("mqtt", 1), service("mqtt", 1883)])
        #expect(member.services == [service("mqtt", 1883), service("ws", 8083)])
        var buffer = ByteBuffer()
        try BinaryEncoder().encode([member], into: &buffer)
        let decoded = try BinaryDecoder().decode([Member].self, from: &buffer)
        #expect(decoded == [member])
        #expect(decoded[0].services.port(of: "ws") == 8083)
        #expect(decoded[0].services.port(of: "http") == nil)
    }

    @Test func aRecordWithUnsortedOrTooManyServicesIsRefused() throws {
        let good = Member(
            id: NodeID(name: NodeName("b")!, incarnation: Incarnation(rawValue: 3)),
            endpoint: Endpoint(host: "b.cluster", port: 7000)!, services: [service("a", 1), service("b", 2)])
        let text = String(decoding: try JSONEncoder().encode(good), as: UTF8.self)
        let swapped = text.replacingOccurrences(of: #""name":"a""#, with: #""name":"c""#)
        #expect(swapped != text)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Member.self, from: Data(swapped.utf8)) }
        let many = (0...MemberService.maximumCount).map { service("s\($0)", 1) }
        #expect(MemberService.normalised(many) == nil)
    }

    @Test func updateLocalBumpsTheVersionAndReportsAChangeOnlyWhenSomethingChanged() {
        var state = local([service("mqtt", 1883)])
        let before = state.local
        let events = state.updateLocal(weight: 5, services: [service("mqtt", 1883), service("http", 18083)])
        #expect(events == [.changed(state.local, previous: .up)])
        #expect(state.local.version == before.version + 1)
        #expect(state.local.weight == 5)
        #expect(state.local.services == [service("http", 18083), service("mqtt", 1883)])
        #expect(state.local.status == .up)
        // The same values again, an invalid weight, too many services: nothing.
        #expect(state.updateLocal(weight: 5).isEmpty)
        #expect(state.updateLocal(weight: .infinity).isEmpty)
        #expect(state.updateLocal(services: (0...16).map { service("s\($0)", 1) }).isEmpty)
        #expect(state.local.version == before.version + 1)
    }

    @Test func peersSeeAWeightOrServiceChangeThroughGossip() {
        var a = local([service("mqtt", 1883)])
        var b = MembershipState(
            local: Member(
                id: NodeID(name: NodeName("b")!, incarnation: Incarnation(rawValue: 1)),
                endpoint: Endpoint(host: "b.cluster", port: 7000)!, status: .up))
        let now = NIODeadline.uptimeNanoseconds(1_000_000)
        _ = b.merge(a.gossip, now: now)
        _ = a.updateLocal(weight: 2, services: [service("mqtt", 1884)])
        let events = b.merge(a.gossip, now: now)
        #expect(events == [.changed(a.local, previous: .up)])
        #expect(b.snapshot.member(named: NodeName("a")!)?.services == [service("mqtt", 1884)])
        #expect(b.snapshot.member(named: NodeName("a")!)?.weight == 2)
        // Stale gossip (the old record) changes nothing.
        var old = a.local
        old.version -= 1
        old.services = [service("mqtt", 1883)]
        #expect(b.merge([old], now: now).isEmpty)
    }
}
