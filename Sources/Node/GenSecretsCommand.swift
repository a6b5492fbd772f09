import ArgumentParser

/// `Node gen-secrets`: prints a fresh cluster cookie (128 characters) and an admin password (32 characters), from
/// the system's cryptographically secure generator, for `--cookie`/`--cookie-file` and `--admin-password`.
struct GenSecretsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gen-secrets",
        abstract: "Print a new cluster cookie (128 characters) and admin password (32 characters).",
        discussion: "Output, in env-file form (for docker compose's .env, or `set -a; . file`): "
            + "STARLING_COOKIE=<…> and STARLING_ADMIN_PASSWORD=<…>. Give every node of a cluster the same cookie.")

    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

    static func secret(length: Int) -> String {
        var generator = SystemRandomNumberGenerator()  // getrandom(2) on Linux
        return String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
    }

    func run() {
        print("STARLING_COOKIE=\(Self.secret(length: 128))")
        print("STARLING_ADMIN_PASSWORD=\(Self.secret(length: 32))")
    }
}
