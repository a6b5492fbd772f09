import ArgumentParser
import Foundation
import StarlingCLI

extension NodeCommand {
    /// The secrets the node runs with: the cluster flags (with the cookie) and the admin password.
    struct Secrets {
        var cluster: ClusterOptions
        var adminPassword: String?
    }

    /// Without `--dev`, the flags as given. With `--dev`, a missing cookie and a missing admin password are taken
    /// from `<data-dir>/dev-secrets.env` when it exists, else generated (as `Node gen-secrets` does), printed once
    /// and stored there (mode 600) so that a restart keeps them; without a data directory they are only printed.
    func resolveSecrets() throws -> Secrets {
        var secrets = Secrets(cluster: cluster, adminPassword: adminPassword)
        guard dev else { return secrets }
        let file = dataDir.map { URL(fileURLWithPath: $0).appendingPathComponent("dev-secrets.env").path }
        var stored: [String: String] = [:]
        if let file, let text = try? String(contentsOfFile: file, encoding: .utf8) {
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 { stored[parts[0]] = parts[1] }
            }
        }
        var generated = false
        if secrets.cluster.cookie == nil, secrets.cluster.cookieFile == nil {
            secrets.cluster.cookie = stored["cookie"] ?? {
                generated = true
                return GenSecretsCommand.secret(length: 128)
            }()
        }
        if secrets.adminPassword == nil {
            secrets.adminPassword = stored["admin-password"] ?? {
                generated = true
                return GenSecretsCommand.secret(length: 32)
            }()
        }
        guard generated else { return secrets }
        let text = "cookie=\(secrets.cluster.cookie ?? "(from --cookie-file)")\nadmin-password=\(secrets.adminPassword ?? "")\n"
        let note = "--dev: generated secrets (shown once\(file.map { "; stored in \($0)" } ?? "")):\n\(text)"
        FileHandle.standardOutput.write(Data(note.utf8))
        if let file, let dataDir {
            try? FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
            guard FileManager.default.createFile(
                atPath: file, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
            else { throw ValidationError("--data-dir \(dataDir): cannot write \(file)") }
        }
        return secrets
    }

    /// Cluster mode needs an admin password, unless `--dev` generates one.
    func validateSecrets() throws {
        guard !dev, adminPassword == nil, try clusterSettings() != nil else { return }
        throw ValidationError(
            "cluster mode needs --admin-password (or STARLING_ADMIN_PASSWORD; `Node gen-secrets` makes one), "
                + "or --dev to generate the secrets for a local test cluster")
    }
}
