import ClusterTransport
import Foundation
import NIOCore
import NIOEmbedded
import StarlingCLI
import Testing

@testable import Gateway

@Suite("gateway state from the membership")
struct GatewayStateTests {
    static func member(
        _ name: String, status: MemberStatus = .up, weight: Double = 1, role: MemberRole = .broker,
        mqtt: Int? = 1883, http: Int? = 18083, version: UInt64 = 1
    ) -> Member {
        var services: [MemberService] = []
        if let mqtt { services.append(MemberService(name: ServiceNames.mqtt, port: mqtt)!) }
        if let http { services.append(MemberService(name: ServiceNames.http, port: http)!) }
        services.append(MemberService(name: ServiceNames.webSocket, port: 8083)!)
        return Member(
            id: NodeID(name: NodeName(name)!, incarnation: Incarnation(rawValue: 1)),
            endpoint: Endpoint(host: "10.0.0.\(name.count)", port: 4370)!, role: role, weight: weight, status: status,
            version: version, services: services)
    }

    @Test("brokers with an MQTT port become backends at their endpoint host; gateways and silent brokers do not")
    func backendsFromMembers() throws {
        let state = GatewayState(clusterWithRise: 2, fall: 3)
        let change = state.apply(members: [
            Self.member("a", weight: 5), Self.member("bb", weight: 2), Self.member("gw", role: .gateway),
            Self.member("quiet", mqtt: nil),
        ])
        #expect(change.closing.isEmpty)
        #expect(state.backends.map(\.name.rawValue) == ["a", "bb"])
        let a = try #require(state.backends.first)
        #expect(a.host == "10.0.0.1" && a.mqttPort == 1883 && a.wsPort == 8083 && a.httpPort == 18083 && a.weight == 5)
        // Routing agrees with the nodes' own ownership function over the up brokers and their weights.
        let candidates = [OwnershipCandidate(name: NodeName("a")!, weight: 5), OwnershipCandidate(name: NodeName("bb")!, weight: 2)]
        for k in 0..<200 {
            let id = "device-\(k)"
            #expect(state.candidates(for: id).first?.name == Ownership.primary(for: "session/\(id)", among: candidates))
        }
    }

    @Test("a member that goes down loses its proxied connections at once and stops getting clients; removed, it is gone")
    func downClosesConnections() async throws {
        let state = GatewayState(clusterWithRise: 2, fall: 3)
        _ = state.apply(members: [Self.member("a"), Self.member("bb")])
        let channel = EmbeddedChannel()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
        #expect(state.register(channel, on: NodeName("a")!))
        #expect(state.connectionCount(NodeName("a")!) == 1)
        let change = state.apply(members: [Self.member("a", status: .down, version: 2), Self.member("bb")])
        #expect(change.closing.count == 1)
        #expect(change.closing.first === channel)
        #expect(!state.isHealthy(NodeName("a")!))
        #expect(state.candidates(for: "x").map(\.name.rawValue) == ["bb"])
        #expect(!state.register(EmbeddedChannel(), on: NodeName("a")!))
        _ = state.apply(members: [Self.member("bb")])
        #expect(state.backends.map(\.name.rawValue) == ["bb"])
    }

    @Test("joining and leaving members get no new clients while another is eligible")
    func joiningAndLeaving() {
        let state = GatewayState(clusterWithRise: 2, fall: 3)
        _ = state.apply(members: [Self.member("a", status: .joining), Self.member("bb", status: .leaving), Self.member("c")])
        #expect(state.candidates(for: "anything").map(\.name.rawValue) == ["c"])
        #expect(state.isHealthy(NodeName("c")!))
        #expect(!state.isHealthy(NodeName("a")!))
    }

    @Test("--weight overrides the node's weight, and a weight change in the membership moves only the keys HRW moves")
    func weights() {
        let overridden = GatewayState(clusterWithRise: 2, fall: 3, overrides: [NodeName("a")!: 7])
        _ = overridden.apply(members: [Self.member("a", weight: 1)])
        #expect(overridden.backends.first?.weight == 7)
        #expect(overridden.inspect().records.first?.weightSource == .override)

        let state = GatewayState(clusterWithRise: 2, fall: 3)
        _ = state.apply(members: [Self.member("a"), Self.member("bb"), Self.member("c")])
        let ids = (0..<2000).map { "k\($0)" }
        let before = ids.map { state.candidates(for: $0).first!.name.rawValue }
        _ = state.apply(members: [Self.member("a", weight: 3, version: 2), Self.member("bb"), Self.member("c")])
        let after = ids.map { state.candidates(for: $0).first!.name.rawValue }
        let moved = zip(before, after).filter { $0 != $1 }
        #expect(!moved.isEmpty)
        #expect(moved.allSatisfy { $0.1 == "a" }, "a heavier node only gains keys")
    }

    @Test("a node that comes back takes only the keys HRW gives it; no other key moves")
    func nodeComesBack() {
        let state = GatewayState(clusterWithRise: 2, fall: 3)
        _ = state.apply(members: [Self.member("bb"), Self.member("c")])
        let ids = (0..<3000).map { "back-\($0)" }
        let before = ids.map { state.candidates(for: $0).first!.name.rawValue }
        _ = state.apply(members: [Self.member("a"), Self.member("bb"), Self.member("c")])
        let after = ids.map { state.candidates(for: $0).first!.name.rawValue }
        let moved = zip(before, after).filter { $0 != $1 }
        #expect(moved.allSatisfy { $0.1 == "a" })
        let fraction: Double = Double(moved.count) / 3000
        #expect((0.30...0.37).contains(fraction), "about a third moves: \(moved.count)")
    }

    @Test("health checks take a backend out after --fall failures and close its connections")
    func healthChecks() async throws {
        let state = GatewayState(clusterWithRise: 2, fall: 2)
        _ = state.apply(members: [Self.member("a"), Self.member("bb")])
        let channel = EmbeddedChannel()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
        #expect(state.register(channel, on: NodeName("a")!))
        let failed = CheckResult(success: false, detail: "HTTP 503", at: Date())
        #expect(state.record(check: failed, for: NodeName("a")!).0 == nil)
        let (transition, closing) = state.record(check: failed, for: NodeName("a")!)
        #expect(transition == .becameUnhealthy)
        #expect(closing.count == 1)
        #expect(state.candidates(for: "x").first?.name.rawValue == "bb")
        #expect(state.inspect().records.first?.lastCheck?.detail == "HTTP 503")
    }

    @Test("the health probe reads the status code from the first line of a response", arguments: [
        ("HTTP/1.1 200 OK\r\n", Optional(Optional(200))), ("HTTP/1.0 503 Service Unavailable\r\nX: y", .some(503)),
        ("HTTP/1.1 20", nil), ("SSH-2.0-OpenSSH\r\n", .some(nil)), ("HTTP/1.1 2000 x\r\n", .some(nil)),
    ])
    func statusLine(text: String, expected: Int??) {
        #expect(HealthProbe.statusCode(responseStart: ByteBuffer(string: text)) == expected)
    }

    @Test("static backends: health results reach routing; a backend down is skipped, then back")
    func routingFollowsHealth() {
        let state = GatewayState(backends: BackendChooserTests.three, rise: 1, fall: 2)
        let id = "state-client"
        let full = Ownership.preferenceList(for: "session/\(id)", among: BackendChooserTests.candidates(BackendChooserTests.three))
        let failed = CheckResult(success: false, detail: "refused", at: Date())
        let passed = CheckResult(success: true, detail: "TCP connected", at: Date())
        #expect(state.candidates(for: id).map(\.name) == full)
        _ = state.record(check: failed, for: full[0])
        #expect(state.candidates(for: id).map(\.name) == full, "one failure of fall 2")
        let (transition, _) = state.record(check: failed, for: full[0])
        #expect(transition == .becameUnhealthy)
        #expect(state.candidates(for: id).map(\.name) == Array(full.dropFirst()))
        #expect(state.record(check: passed, for: full[0]).0 == .becameHealthy)
        #expect(state.candidates(for: id).map(\.name) == full)
    }
}
