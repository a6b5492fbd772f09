import ArgumentParser
import ClusterTransport
import Foundation
import StarlingCLI

extension NodeCommand {
    /// The cluster settings from the flags; nil when no cookie is configured (a standalone node).
    func clusterSettings(_ options: ClusterOptions? = nil) throws -> ClusterSystemSettings? {
        try (options ?? cluster).settings(name: name, bind: bind, role: .broker, weight: weight)
    }

    /// A node without a cookie: its actors run on a `ClusterSystem` that opens no port and joins nobody.
    func standaloneSettings() throws -> ClusterSystemSettings {
        let unused = String((0..<48).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement()! })
        var settings = ClusterSystemSettings(name: try ClusterOptions.nodeName(name), cookie: ClusterCookie(unused)!)
        settings.listens = false
        return settings
    }

    func validateCluster() throws {
        _ = try ClusterOptions.nodeName(name)
        guard weight > 0, weight <= 1_000_000, weight.isFinite else { throw ValidationError("--weight must be > 0 and at most 1000000") }
        _ = try clusterSettings()
    }
}
