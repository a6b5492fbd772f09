import ArgumentParser
import ClusterTransport
import Foundation

extension NodeCommand {
    /// The cluster settings from the flags; nil when no cookie is configured (a standalone node).
    func clusterSettings() throws -> ClusterSystemSettings? {
        guard let cookie = try loadCookie() else {
            guard seed.isEmpty else {
                throw ValidationError("--seed needs --cookie or --cookie-file (the shared cluster cookie, at least 32 characters)")
            }
            return nil
        }
        guard let nodeName = NodeName(name) else {
            throw ValidationError("--name must be 1...64 characters from A-Z a-z 0-9 . _ - @, got \(name)")
        }
        var settings = ClusterSystemSettings(name: nodeName, cookie: cookie)
        settings.bindHost = bind
        settings.port = clusterPort
        settings.advertisedHost = advertise ?? name.split(separator: "@", maxSplits: 1).dropFirst().first.map(String.init)
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

    /// A node without a cookie: its actors run on a `ClusterSystem` that opens no port and joins nobody.
    func standaloneSettings() throws -> ClusterSystemSettings {
        guard let nodeName = NodeName(name) else {
            throw ValidationError("--name must be 1...64 characters from A-Z a-z 0-9 . _ - @, got \(name)")
        }
        let unused = String((0..<48).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement()! })
        var settings = ClusterSystemSettings(name: nodeName, cookie: ClusterCookie(unused)!)
        settings.listens = false
        return settings
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

    func validateCluster() throws {
        guard NodeName(name) != nil else {
            throw ValidationError("--name must be 1...64 characters from A-Z a-z 0-9 . _ - @, got \(name)")
        }
        guard (0...65_535).contains(clusterPort) else { throw ValidationError("--cluster-port must be 0...65535, got \(clusterPort)") }
        guard weight > 0, weight <= 1_000_000, weight.isFinite else { throw ValidationError("--weight must be > 0 and at most 1000000") }
        guard (clusterCert == nil) == (clusterKey == nil) else {
            throw ValidationError("--cluster-cert and --cluster-key must be given together")
        }
        guard clusterCa == nil || clusterCert != nil else { throw ValidationError("--cluster-ca needs --cluster-cert and --cluster-key") }
        _ = try clusterSettings()
    }
}
