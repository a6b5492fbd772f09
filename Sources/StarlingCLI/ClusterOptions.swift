import ArgumentParser
import ClusterTransport
import Foundation

/// The cluster flags `Node` and `Gateway` share (`@OptionGroup`): where the cluster listener binds, the seeds, the
/// cookie and the TLS files. The cluster runs when a cookie is set.
public struct ClusterOptions: ParsableArguments, Sendable {
    /// The flags that take a value, for the environment fallback.
    public static let valueOptions = [
        "cluster-port", "seed", "cookie", "cookie-file", "advertise", "cluster-cert", "cluster-key", "cluster-ca",
    ]

    @Option(help: "Cluster listener (TLS 1.3 only); the cluster runs when a cookie is set.") public var clusterPort = 4370
    @Option(help: "HOST:PORT of a cluster member to join through; repeatable (STARLING_SEEDS: a comma list).")
    public var seed: [String] = []
    @Option(help: "The shared cluster cookie, at least 32 characters.") public var cookie: String?
    @Option(help: "A file whose first line is the cluster cookie.") public var cookieFile: String?
    @Option(help: "The host other members dial to reach this one (default: the part of --name after @).")
    public var advertise: String?
    @Option(help: "PEM certificate for cluster links (default: a self-signed one generated at start).")
    public var clusterCert: String?
    @Option(help: "PEM private key for --cluster-cert.") public var clusterKey: String?
    @Option(help: "PEM CA bundle: when given, cluster peers must present a certificate it signed.")
    public var clusterCa: String?

    public init() {}

    public func validate() throws {
        guard (0...65_535).contains(clusterPort) else {
            throw ValidationError("--cluster-port must be 0...65535, got \(clusterPort)")
        }
        guard (clusterCert == nil) == (clusterKey == nil) else {
            throw ValidationError("--cluster-cert and --cluster-key must be given together")
        }
        guard clusterCa == nil || clusterCert != nil else {
            throw ValidationError("--cluster-ca needs --cluster-cert and --cluster-key")
        }
    }

    /// The cluster settings for a member called `name` (`--name`); nil when no cookie is configured. Throws a
    /// `ValidationError` naming the flag at fault.
    public func settings(name: String, bind: String, role: MemberRole, weight: Double) throws -> ClusterSystemSettings? {
        guard let cookie = try loadCookie() else {
            guard seed.isEmpty else {
                throw ValidationError(
                    "--seed needs --cookie or --cookie-file (the shared cluster cookie, at least 32 characters)")
            }
            return nil
        }
        var settings = ClusterSystemSettings(name: try Self.nodeName(name), cookie: cookie)
        settings.bindHost = bind
        settings.port = clusterPort
        settings.advertisedHost = advertise ?? name.split(separator: "@", maxSplits: 1).dropFirst().first.map(String.init)
        settings.role = role
        settings.weight = weight
        for text in seed {
            guard let endpoint = Endpoint(parsing: text) else { throw ValidationError("--seed must be HOST:PORT, got \(text)") }
            settings.seeds.append(endpoint)
        }
        if let clusterCert, let clusterKey {
            settings.tlsFiles = ClusterTLSFiles(certificate: clusterCert, key: clusterKey, ca: clusterCa)
        }
        return settings
    }

    /// `--name` as a `NodeName`, or a `ValidationError` that says what a name may hold.
    public static func nodeName(_ name: String) throws -> NodeName {
        guard let nodeName = NodeName(name) else {
            throw ValidationError("--name must be 1...64 characters from A-Z a-z 0-9 . _ - @, got \(name)")
        }
        return nodeName
    }

    /// The settings in force, secrets masked, as `flag=value` words for the start-up log line.
    public var logWords: [String] {
        [
            "cluster-port=\(clusterPort)", "seed=\(seed.joined(separator: ","))",
            "cookie=\(cookie == nil ? "-" : "****")", "cookie-file=\(cookieFile ?? "-")", "advertise=\(advertise ?? "-")",
            "cluster-cert=\(clusterCert ?? "-")", "cluster-key=\(clusterKey == nil ? "-" : "****")",
            "cluster-ca=\(clusterCa ?? "-")",
        ]
    }

    /// The cookie from `--cookie` (or `STARLING_COOKIE`), else from `--cookie-file` (one line; the line break at the
    /// end is not part of it).
    private func loadCookie() throws -> ClusterCookie? {
        let text: String
        let flag: String
        if let cookie {
            (text, flag) = (cookie, "--cookie")
        } else if let cookieFile {
            guard let contents = try? String(contentsOfFile: cookieFile, encoding: .utf8) else {
                throw ValidationError("--cookie-file \(cookieFile): cannot read the file")
            }
            (text, flag) = (String(contents.prefix { $0 != "\n" && $0 != "\r\n" && $0 != "\r" }), "--cookie-file")
        } else {
            return nil
        }
        guard let cookie = ClusterCookie(text) else {
            throw ValidationError("\(flag): the cluster cookie must be 32...1024 characters, got \(text.utf8.count)")
        }
        return cookie
    }
}
