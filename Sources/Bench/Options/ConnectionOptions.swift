import ArgumentParser
import ClusterTransport
import MQTTClient
import MQTTCore

#if canImport(Glibc)
import Glibc
#endif

/// Where to connect and how. Every address must be in 127.0.0.0/8: the tool is for loopback benchmarks only.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "Broker host (an IPv4 address in 127.0.0.0/8, or localhost).")
    var host = "127.0.0.1"

    @Option(help: "Broker MQTT port.")
    var port = 1883

    @Option(name: .customLong("pub-host"), help: "Host for publishers (default: --host).")
    var pubHost: String?

    @Option(name: .customLong("pub-port"), help: "Port for publishers (default: --port).")
    var pubPort: Int?

    @Option(name: .customLong("sub-host"), help: "Host for subscribers (default: --host).")
    var subHost: String?

    @Option(name: .customLong("sub-port"), help: "Port for subscribers (default: --port).")
    var subPort: Int?

    @Option(help: "MQTT protocol version: 3.1.1 or 5.")
    var version: ProtocolVersionArgument = .v3_1_1

    @Option(
        name: .customLong("source-ips"),
        help: "Comma-separated local addresses to spread connections over, e.g. 127.0.0.1,127.0.0.2.")
    var sourceIPs: String?

    @Option(help: "Keep-alive in seconds sent in CONNECT (0 disables pings).")
    var keepAlive = 60

    @Option(help: "Event loop threads (default: the number of cores).")
    var threads: Int?

    @Option(help: "Connections being set up at once.")
    var connectConcurrency = 100

    @Option(help: "Client identifier prefix; the process id and a role/index are appended.")
    var clientPrefix = "bench"

    @Option(
        name: .customLong("cluster-nodes"),
        help: "Starling cluster nodes as NAME[:WEIGHT], comma-separated, for --pub-owner/--sub-owner.")
    var clusterNodes: String?

    @Option(
        name: .customLong("pub-owner"),
        help: "Give publishers client IDs whose sessions the named node owns (needs --cluster-nodes).")
    var pubOwner: String?

    @Option(
        name: .customLong("sub-owner"),
        help: "Give subscribers client IDs whose sessions the named node owns (needs --cluster-nodes), as the gateway would place them.")
    var subOwner: String?

    func validate() throws {
        for host in [host, pubHost, subHost].compactMap({ $0 }) {
            guard LoopbackAddress.isLoopback(host) else {
                throw ValidationError("\(host) is not in 127.0.0.0/8; the bench tool only targets loopback")
            }
        }
        for address in sourceAddresses where !LoopbackAddress.isLoopback(address) || address == "localhost" {
            throw ValidationError("source address \(address) must be an IPv4 address in 127.0.0.0/8")
        }
        for port in [port, pubPort, subPort].compactMap({ $0 }) where !(1...65535).contains(port) {
            throw ValidationError("port \(port) out of range")
        }
        guard (0...65535).contains(keepAlive) else { throw ValidationError("--keep-alive must be 0...65535") }
        guard connectConcurrency > 0 else { throw ValidationError("--connect-concurrency must be positive") }
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive") }
        if pubOwner != nil || subOwner != nil {
            let names = try candidates().map(\.name)
            for owner in [pubOwner, subOwner].compactMap({ $0 }) where !names.contains(where: { $0.rawValue == owner }) {
                throw ValidationError("--pub-owner/--sub-owner \(owner) is not in --cluster-nodes")
            }
        }
    }

    /// The cluster's nodes from `--cluster-nodes`, as ownership candidates.
    func candidates() throws -> [OwnershipCandidate] {
        let entries = (clusterNodes ?? "").split(separator: ",").map(String.init)
        guard !entries.isEmpty else { throw ValidationError("--cluster-nodes is needed with --pub-owner/--sub-owner") }
        return try entries.map { entry in
            let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
            guard let name = NodeName(parts[0]), let weight = parts.count == 2 ? Double(parts[1]) : 1, weight > 0 else {
                throw ValidationError("--cluster-nodes: bad entry \(entry)")
            }
            return OwnershipCandidate(name: name, weight: weight)
        }
    }

    /// The client ID of connection `index` in `role`: with an owner for the role, the first `-<k>` suffix whose
    /// session that node owns.
    private func clientIDText(role: Role, index: Int) -> String {
        let base = "\(clientPrefix)-\(processID)-\(role.rawValue)-\(index)"
        let owner = role == .pub ? pubOwner : role == .sub ? subOwner : nil
        guard let owner, let candidates = try? candidates() else { return base }
        for k in 0..<100_000 {
            let id = "\(base)-\(k)"
            if Ownership.primary(for: "session/\(id)", among: candidates)?.rawValue == owner { return id }
        }
        return base
    }

    var sourceAddresses: [String] {
        (sourceIPs ?? "").split(separator: ",").map { $0.trimmingCharacters() }.filter { !$0.isEmpty }
    }

    enum Role: String { case pub, sub, conn }

    /// The configuration of connection `index` in `role`, on the right host and source address.
    func configuration(role: Role, index: Int, autoAck: Bool = true) -> MQTTClientConfiguration {
        let (host, port): (String, Int) =
            switch role {
            case .pub: (pubHost ?? self.host, pubPort ?? self.port)
            case .sub: (subHost ?? self.host, subPort ?? self.port)
            case .conn: (self.host, self.port)
            }
        let sources = sourceAddresses
        let clientID = try? ClientID(validating: clientIDText(role: role, index: index))
        return MQTTClientConfiguration(
            host: LoopbackAddress.numeric(host), port: port, version: version.value, clientID: clientID,
            cleanStart: true, keepAlive: .seconds(keepAlive),
            bindAddress: sources.isEmpty ? nil : sources[index % sources.count], autoAck: autoAck)
    }

    private var processID: Int32 { getpid() }
}

enum ProtocolVersionArgument: String, ExpressibleByArgument, CaseIterable {
    case v3_1_1 = "3.1.1"
    case v5 = "5"

    init?(argument: String) {
        switch argument {
        case "3.1.1", "4", "311": self = .v3_1_1
        case "5", "5.0": self = .v5
        default: return nil
        }
    }

    var value: MQTTProtocolVersion { self == .v5 ? .v5 : .v3_1_1 }
}

enum LoopbackAddress {
    /// Whether `host` is "localhost" or a dotted IPv4 address whose first octet is 127.
    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return false }
        let values = octets.compactMap { UInt8($0) }
        return values.count == 4 && values[0] == 127
    }

    /// "localhost" as 127.0.0.1, so that no resolver is involved.
    static func numeric(_ host: String) -> String { host == "localhost" ? "127.0.0.1" : host }
}

extension Substring {
    func trimmingCharacters() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
