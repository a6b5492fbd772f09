import BrokerActors
import Foundation
import Testing

private let mosquittoPasswd = "/usr/bin/mosquitto_passwd"

extension AuthTests {
    /// Cross-checks against the real tool when it is installed (scripts/test installs mosquitto); the inline vectors
    /// in `PasswordFileTests` cover machines without it.
    @Suite("mosquitto_passwd, live", .enabled(if: FileManager.default.isExecutableFile(atPath: mosquittoPasswd)))
    struct MosquittoPasswdTests {
        @Test func verifiesFreshlyGeneratedEntries() throws {
            let path = FileManager.default.temporaryDirectory
                .appendingPathComponent("starling-passwd-\(UInt64.random(in: 0 ... .max))").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            try Self.run(["-c", "-b", path, "pbkdf2", "pässwörd 1"])
            try Self.run(["-H", "sha512", "-b", path, "sha", "hunter2"])
            try Self.run(["-b", path, "empty", ""])

            let file = try PasswordFile(contentsOfFile: path)
            #expect(file.count == 3)
            #expect(file.verify(username: "pbkdf2", password: Array("pässwörd 1".utf8)))
            #expect(file.verify(username: "sha", password: Array("hunter2".utf8)))
            #expect(file.verify(username: "empty", password: []))
            #expect(!file.verify(username: "pbkdf2", password: Array("pässwörd 2".utf8)))
            #expect(!file.verify(username: "sha", password: Array("hunter3".utf8)))
        }

        static func run(_ arguments: [String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: mosquittoPasswd)
            process.arguments = arguments
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "mosquitto_passwd \(arguments.prefix(2))")
        }
    }
}
