import Foundation
import Testing

/// Starts a node, runs `body`, and stops the node afterwards, also when `body` throws. A node that is no longer
/// running when the body ends has crashed: that is recorded as an issue, with the end of its log. When `body` throws,
/// the end of the log is printed and the error is rethrown as it is (so `#require` failures stay what they are).
func withNode<T>(
    _ arguments: [String] = [], tls: Bool = false,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: (NodeProcess) async throws -> T
) async throws -> T {
    let node = try await NodeProcess.start(arguments, tls: tls)
    let result: T
    do {
        result = try await body(node)
    } catch {
        checkAlive(node, sourceLocation: sourceLocation)
        await node.stop()
        print("--- node log \(node.logPath) (tail) after \(error) ---\n\(node.logTail())")
        throw error
    }
    checkAlive(node, sourceLocation: sourceLocation)
    await node.stop()
    return result
}

private func checkAlive(_ node: NodeProcess, sourceLocation: SourceLocation) {
    if !node.isRunning {
        Issue.record("node exited during the test; log tail:\n\(node.logTail())", sourceLocation: sourceLocation)
    }
}

extension NodeProcess {
    /// The last `lines` lines of the node's log.
    func logTail(_ lines: Int = 40) -> String {
        log.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}

/// A fresh directory under the system temporary directory, removed by the caller with `remove()`.
struct TemporaryDirectory: Sendable {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("starling-e2e-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Writes `contents` to `name` in the directory and returns its path.
    func file(_ name: String, _ contents: String) throws -> String {
        let file = (path as NSString).appendingPathComponent(name)
        try contents.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Runs a command to completion and returns its exit status and output (stdout and stderr together).
@discardableResult
func runTool(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A password file with the given users, written by `mosquitto_passwd` (the format the node reads).
func makePasswordFile(in directory: TemporaryDirectory, users: [(String, String)]) throws -> String {
    let file = (directory.path as NSString).appendingPathComponent("passwords")
    for (index, (user, password)) in users.enumerated() {
        let arguments = (index == 0 ? ["-c"] : []) + ["-b", file, user, password]
        let result = try runTool("/usr/bin/mosquitto_passwd", arguments)
        guard result.status == 0 else { throw ToolFailure(tool: "mosquitto_passwd", output: result.output) }
    }
    return file
}

struct ToolFailure: Error, CustomStringConvertible {
    let tool: String
    let output: String
    var description: String { "\(tool) failed: \(output)" }
}
