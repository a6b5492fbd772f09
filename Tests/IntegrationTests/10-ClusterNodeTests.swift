import Foundation
import Testing

/// The `Node` executable's cluster flags: two nodes join through a seed, one leaves gracefully, and bad cluster
/// flags stop the node with an error that names the flag.
@Suite("10 cluster flags of the Node executable")
struct ClusterNodeTests {
    static let cookie = String(repeating: "node-cluster-cookie-", count: 3)

    /// Waits until the node's log has a membership line for `member` with `status`.
    private func waitForMember(_ node: NodeProcess, _ member: String, _ status: String) async throws {
        try await waitUntil("\(member) \(status) in the log", within: .seconds(20)) {
            node.log.split(separator: "\n").contains { line in
                line.contains("member changed") && line.contains("cluster/member=\(member)#")
                    && line.contains("cluster/status=\(status) ")
            }
        }
    }

    @Test("two nodes form a cluster through a seed (cookie by flag and by file); SIGTERM leaves gracefully")
    func twoNodesJoinAndLeave() async throws {
        let portA = try PortAllocator.shared.next()
        let portB = try PortAllocator.shared.next()
        let cookieFile = FileManager.default.temporaryDirectory.appendingPathComponent("cookie-\(portB)").path
        try (Self.cookie + "\n").write(toFile: cookieFile, atomically: true, encoding: .utf8)
        let a = try await NodeProcess.start(["--name", "a@127.0.0.1", "--cluster-port", String(portA), "--cookie", Self.cookie, "--dev"])
        let b = try await NodeProcess.start([
            "--name", "b@127.0.0.1", "--cluster-port", String(portB), "--cookie-file", cookieFile,
            "--seed", "127.0.0.1:\(portA)", "--weight", "2", "--admin-password", "b-admin-password",
        ])
        try await waitForMember(a, "b@127.0.0.1", "up")
        try await waitForMember(b, "a@127.0.0.1", "up")
        await b.stop()  // SIGTERM: b announces it is leaving, then its links close
        try await waitForMember(a, "b@127.0.0.1", "leaving")
        try await waitForMember(a, "b@127.0.0.1", "down")
        #expect(a.isRunning)
        await a.stop()
    }

    @Test(
        "bad cluster flags stop the node with an error naming the flag",
        arguments: [
            (["--seed", "127.0.0.1:4370"], "--seed needs --cookie"),
            (["--cookie", "short"], "--cookie: the cluster cookie must be 32...1024 characters"),
            (["--cookie-file", "/nonexistent/cookie"], "--cookie-file /nonexistent/cookie: cannot read"),
            (["--cookie", cookie, "--weight", "0"], "--weight must be > 0"),
            (["--cookie", cookie, "--seed", "nocolon"], "--seed must be HOST:PORT"),
            (["--cookie", cookie, "--cluster-port", "70000"], "--cluster-port must be 0...65535"),
            (["--cookie", cookie, "--cluster-cert", "/tmp/x.pem"], "--cluster-cert and --cluster-key must be given together"),
            (["--cookie", cookie, "--name", "bad/name"], "--name must be"),
            (["--cookie", cookie], "cluster mode needs --admin-password"),
        ])
    func badFlags(arguments: [String], message: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: NodeProcess.binaryPath)
        process.arguments = ["--mqtt-port", "0", "--ws-port", "0", "--http-port", "0"] + arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("STARLING_") }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(text.contains(message), "output: \(text)")
    }
}

@Suite("10 Node gen-secrets")
struct GenSecretsTests {
    private func run() throws -> [String: String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: NodeProcess.binaryPath)
        process.arguments = ["gen-secrets"]
        // An environment setting for the node must not get in the way of the subcommand.
        process.environment = ProcessInfo.processInfo.environment.merging(["STARLING_MQTT_PORT": "1884"]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
        }
        return values
    }

    @Test("prints a 128-character cookie and a 32-character admin password in env-file form, different each time")
    func secrets() throws {
        let first = try run()
        let second = try run()
        let alphanumeric = { (text: String) in text.unicodeScalars.allSatisfy { $0.isASCII && $0.properties.isAlphabetic || ("0"..."9").contains($0) } }
        #expect(first["STARLING_COOKIE"]?.count == 128)
        #expect(first["STARLING_ADMIN_PASSWORD"]?.count == 32)
        #expect(alphanumeric(first["STARLING_COOKIE"] ?? "") && alphanumeric(first["STARLING_ADMIN_PASSWORD"] ?? ""))
        #expect(first["STARLING_COOKIE"] != second["STARLING_COOKIE"])
        #expect(first["STARLING_ADMIN_PASSWORD"] != second["STARLING_ADMIN_PASSWORD"])
    }
}
