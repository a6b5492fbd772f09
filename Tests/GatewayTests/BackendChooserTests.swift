import ClusterTransport
import StarlingCLI
import Testing

@testable import Gateway

@Suite("backend choice")
struct BackendChooserTests {
    static func backend(_ name: String, weight: Double = 1, port: Int = 1883) -> Backend {
        Backend(name: NodeName(name)!, host: "127.0.0.1", mqttPort: port, wsPort: 0, httpPort: 0, weight: weight)
    }

    static let three = ["n1@127.0.0.1", "n2@127.0.0.1", "n3@127.0.0.1"].map { backend($0) }
    static let allNames = Set(three.map(\.name))

    static func candidates(_ backends: [Backend]) -> [OwnershipCandidate] {
        backends.map { OwnershipCandidate(name: $0.name, weight: $0.weight) }
    }

    @Test("a client goes to Ownership.primary of session/<clientID> over the healthy backends, the rest after")
    func sameAsOwnership() {
        for k in 0..<500 {
            let id = "client-\(k)"
            let order = BackendChooser.order(clientID: id, backends: Self.three, healthy: Self.allNames, connections: [:])
            #expect(order.first == Ownership.primary(for: "session/\(id)", among: Self.candidates(Self.three)))
            #expect(order == Ownership.preferenceList(for: "session/\(id)", among: Self.candidates(Self.three)))
            // Deterministic.
            #expect(order == BackendChooser.order(clientID: id, backends: Self.three, healthy: Self.allNames, connections: [:]))
        }
    }

    @Test("an unhealthy primary: the client goes to the second choice (the node's next owner)")
    func unhealthyPrimary() {
        for k in 0..<300 {
            let id = "client-\(k)"
            let full = Ownership.preferenceList(for: "session/\(id)", among: Self.candidates(Self.three))
            let healthy = Self.allNames.subtracting([full[0]])
            let order = BackendChooser.order(clientID: id, backends: Self.three, healthy: healthy, connections: [:])
            #expect(order == Array(full.dropFirst()))
            let survivors = Self.three.filter { $0.name != full[0] }
            #expect(order.first == Ownership.primary(for: "session/\(id)", among: Self.candidates(survivors)))
        }
    }

    @Test("no healthy backend: every backend, in preference order")
    func noneHealthy() {
        let order = BackendChooser.order(clientID: "x", backends: Self.three, healthy: [], connections: [:])
        #expect(order == Ownership.preferenceList(for: "session/x", among: Self.candidates(Self.three)))
    }

    @Test("weights 5/2/3 over 10,000 client IDs: each backend's share within 3 points of its weight's share")
    func weights() {
        let backends = [Self.backend("a", weight: 5), Self.backend("b", weight: 2), Self.backend("c", weight: 3)]
        var counts: [String: Int] = [:]
        for k in 0..<10_000 {
            let first = BackendChooser.order(
                clientID: "device-\(k)", backends: backends, healthy: Set(backends.map(\.name)), connections: [:]
            ).first!
            counts[first.rawValue, default: 0] += 1
        }
        for (name, share) in [("a", 0.5), ("b", 0.2), ("c", 0.3)] {
            let measured = Double(counts[name] ?? 0) / 10_000
            #expect(abs(measured - share) <= 0.03, "\(name): \(measured) against \(share); \(counts)")
        }
    }

    @Test("a 200-character client ID is routed by its full value: IDs sharing 32+ characters can differ")
    func fullClientID() {
        let prefix = String(repeating: "p", count: 190)
        var owners = Set<NodeName>()
        for k in 0..<100 {
            let id = prefix + String(repeating: "0", count: 10 - String(k).count) + String(k)
            #expect(id.count == 200)
            let order = BackendChooser.order(clientID: id, backends: Self.three, healthy: Self.allNames, connections: [:])
            #expect(order.first == Ownership.primary(for: "session/\(id)", among: Self.candidates(Self.three)))
            owners.insert(order.first!)
        }
        #expect(owners.count == 3, "200-character IDs sharing 190 characters all went to \(owners)")
    }

    @Test("an empty client ID goes to the fewest connections relative to weight; ties by name; healthy only")
    func emptyClientID() {
        let backends = [Self.backend("a", weight: 2), Self.backend("b"), Self.backend("c")]
        let all = Set(backends.map(\.name))
        let name = { (s: String) in NodeName(s)! }
        #expect(BackendChooser.order(clientID: "", backends: backends, healthy: all, connections: [:]).map(\.rawValue) == ["a", "b", "c"])
        // a: 4/2 = 2, b: 1, c: 3.
        let counts = [name("a"): 4, name("b"): 1, name("c"): 3]
        #expect(BackendChooser.order(clientID: "", backends: backends, healthy: all, connections: counts).map(\.rawValue) == ["b", "a", "c"])
        #expect(BackendChooser.order(clientID: "", backends: backends, healthy: [name("a"), name("c")], connections: counts).map(\.rawValue) == ["a", "c"])
        // a: 2/2 = 1 ties b: 1; a's name is smaller.
        #expect(BackendChooser.order(clientID: "", backends: backends, healthy: all, connections: [name("a"): 2, name("b"): 1, name("c"): 5]).map(\.rawValue) == ["a", "b", "c"])
    }
}

@Suite("backend flag")
struct BackendParseTests {
    @Test("NAME=HOST:MQTT:WS:HTTP:WEIGHT, IPv6 in brackets")
    func parses() throws {
        let backend = try Backend.parse("n1@10.0.0.1=10.0.0.1:1883:8083:18083:1.5")
        #expect(backend == Backend(name: NodeName("n1@10.0.0.1")!, host: "10.0.0.1", mqttPort: 1883, wsPort: 8083, httpPort: 18083, weight: 1.5))
        let v6 = try Backend.parse("node-b=[::1]:1884:0:0:1")
        #expect(v6.host == "::1" && v6.mqttPort == 1884 && v6.weight == 1)
    }

    @Test("bad values say what is wrong", arguments: [
        "n1", "bad name=h:1:2:3:1", "n1=h:1:2:3", "n1=h:x:2:3:1", "n1=h:0:2:3:1", "n1=h:1:2:70000:1", "n1=h:1:2:3:0",
        "n1=h:1:2:3:-1", "n1=h:1:2:3:inf", "n1=:1:2:3:1", "n1=[::1:1:2:3:1",
    ])
    func rejects(text: String) {
        #expect(throws: BackendParseError.self) { try Backend.parse(text) }
    }
}

@Suite("health")
struct HealthStateMachineTests {
    @Test("starts healthy; fall 3 failures in a row to go down, rise 2 successes in a row to come back")
    func riseFall() {
        var machine = HealthStateMachine(rise: 2, fall: 3)
        #expect(machine.isHealthy)
        #expect(machine.record(success: false) == nil)
        #expect(machine.record(success: false) == nil)
        #expect(machine.record(success: true) == nil, "a success resets the failure streak")
        #expect(machine.record(success: false) == nil)
        #expect(machine.record(success: false) == nil)
        #expect(machine.record(success: false) == .becameUnhealthy)
        #expect(!machine.isHealthy)
        #expect(machine.record(success: false) == nil)
        #expect(machine.record(success: true) == nil)
        #expect(machine.record(success: false) == nil, "a failure resets the success streak")
        #expect(machine.record(success: true) == nil)
        #expect(machine.record(success: true) == .becameHealthy)
        #expect(machine.isHealthy)
        #expect(machine.record(success: true) == nil)
    }

    @Test("rise 1 / fall 1 flip on every change")
    func immediate() {
        var machine = HealthStateMachine(rise: 1, fall: 1)
        #expect(machine.record(success: false) == .becameUnhealthy)
        #expect(machine.record(success: true) == .becameHealthy)
    }
}

@Suite("environment")
struct GatewayEnvironmentTests {
    @Test("STARLING_BACKENDS is a comma list of --backend; flags win over the environment")
    func merge() {
        let merged = EnvironmentArguments.merge(
            arguments: ["--mqtt-port", "1999"], options: GatewayCommand.valueOptions,
            repeatable: ["backend": "STARLING_BACKENDS"],
            environment: ["STARLING_BACKENDS": "a=h:1:0:0:1, b=h:2:0:0:1", "STARLING_MQTT_PORT": "7", "STARLING_RISE": "4"])
        #expect(merged == ["--mqtt-port", "1999", "--backend", "a=h:1:0:0:1", "--backend", "b=h:2:0:0:1", "--rise", "4"])
    }

    @Test("no backend: the error says one is required; a bad one names --backend")
    func validation() throws {
        #expect(throws: (any Error).self) { _ = try GatewayCommand.parse([]) }
        do {
            _ = try GatewayCommand.parse([])
        } catch {
            #expect(GatewayCommand.message(for: error).contains("give --seed HOST:PORT with --cookie"))
        }
        do {
            _ = try GatewayCommand.parse(["--backend", "n1=h:1:0:0:zero"])
            Issue.record("accepted")
        } catch {
            #expect(GatewayCommand.message(for: error).contains("--backend"))
        }
        _ = try GatewayCommand.parse(["--backend", "n1=h:1:0:0:1"])
        let cookie = String(repeating: "c", count: 32)
        _ = try GatewayCommand.parse(["--seed", "127.0.0.1:4370", "--cookie", cookie])
        for (arguments, message) in [
            (["--seed", "127.0.0.1:4370", "--cookie", cookie, "--backend", "n1=h:1:0:0:1"], "--backend and --cookie"),
            (["--seed", "127.0.0.1:4370"], "--seed needs --cookie"),
            (["--backend", "n1=h:1:0:0:1", "--weight", "n1"], "--weight must be NAME=WEIGHT"),
            (["--backend", "n1=h:1:0:0:1", "--weight", "n1=-2"], "--weight n1: the weight must be"),
        ] {
            do {
                _ = try GatewayCommand.parse(arguments)
                Issue.record("accepted \(arguments)")
            } catch {
                #expect(GatewayCommand.message(for: error).contains(message), "\(arguments)")
            }
        }
    }
}
