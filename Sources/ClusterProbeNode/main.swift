import ClusterProbe
import ClusterTransport
import Logging
import NIOCore
import NIOPosix

// A cluster member that hosts the probe actors: the peer process of the multi-process cluster tests and of the
// remote-call benchmark. Usage:
//   ClusterProbeNode --name NAME --port PORT --cookie COOKIE [--seed HOST:PORT]... [--weight W] [--role broker|gateway] [--no-lz4]
// Logs "probe ready port=<port> incarnation=<n>" once the listener is up.

struct ProbeArguments {
    var settings: ClusterSystemSettings

    static func parse(_ arguments: [String]) throws -> ProbeArguments {
        var values: [String: [String]] = [:]
        var flags: Set<String> = []
        var index = 0
        while index < arguments.count {
            let flag = arguments[index]
            if flag == "--no-lz4" {
                flags.insert(flag)
                index += 1
                continue
            }
            guard flag.hasPrefix("--"), index + 1 < arguments.count else { throw UsageError("unexpected \(flag)") }
            values[flag, default: []].append(arguments[index + 1])
            index += 2
        }
        guard let nameText = values["--name"]?.last, let name = NodeName(nameText) else { throw UsageError("--name: a node name") }
        guard let cookieText = values["--cookie"]?.last, let cookie = ClusterCookie(cookieText) else {
            throw UsageError("--cookie: at least 32 characters")
        }
        var settings = ClusterSystemSettings(name: name, cookie: cookie)
        settings.bindHost = "127.0.0.1"
        guard let port = Int(values["--port"]?.last ?? "0") else { throw UsageError("--port: a number") }
        settings.port = port
        for seed in values["--seed"] ?? [] {
            guard let endpoint = Endpoint(parsing: seed) else { throw UsageError("--seed: HOST:PORT, got \(seed)") }
            settings.seeds.append(endpoint)
        }
        if let weight = values["--weight"]?.last {
            guard let value = Double(weight), value > 0 else { throw UsageError("--weight: a positive number") }
            settings.weight = value
        }
        if values["--role"]?.last == "gateway" { settings.role = .gateway }
        if flags.contains("--no-lz4") { settings.compressAbove = nil }
        return ProbeArguments(settings: settings)
    }
}

struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = .info
    return handler
}

do {
    let arguments = try ProbeArguments.parse(Array(CommandLine.arguments.dropFirst()))
    let system = try await ClusterSystem(settings: arguments.settings)
    ProbeHost.install(on: system)
    // Through the logger (stderr, unbuffered): stdout to a file is block-buffered.
    Logger(label: "probe").info("probe ready port=\(system.endpoint.port) incarnation=\(system.node.incarnation)")
    // Runs until killed; the cluster runs on NIO's threads.
    while true { try await Task.sleep(for: .seconds(3600)) }
} catch {
    Logger(label: "probe").critical("ClusterProbeNode: \(error)")
    exit(2)
}
