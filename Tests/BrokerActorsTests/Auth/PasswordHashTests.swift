import BrokerActors
import Foundation
import Testing

extension AuthTests {
    @Suite("PasswordHash and writing entries")
    struct PasswordHashTests {
        static let aliceHash =
            "$7$101$nMaXEq4qVBXcsVJ9$C0FV6uv6r8DdJuuhzeDtJQWfBrtebTcQ58WUULOd0Vx7AnmpnUun7YWFKSIT7pQ7tVlT3qysGvxISM5IkQINnA=="
        static let carolHash =
            "$6$UXN7mXYhBhBxo3fS$qzCjjYDbEHOtZBhYn1NZij140r+DOvJYmaDkqyPTiOHaCUW0NdYiI0fUabuYtpFUpJIgajTpL53nyxb+r8Ly8w=="

        @Test func hashingWithMosquittosSaltReproducesItsEntries() throws {
            let pbkdf2 = PasswordHash(
                password: Array("secret1".utf8), salt: Array(try #require(Data(base64Encoded: "nMaXEq4qVBXcsVJ9"))),
                algorithm: .pbkdf2SHA512(iterations: 101))
            #expect(pbkdf2.encoded == Self.aliceHash)
            let sha512 = PasswordHash(
                password: Array("hunter2".utf8), salt: Array(try #require(Data(base64Encoded: "UXN7mXYhBhBxo3fS"))),
                algorithm: .sha512)
            #expect(sha512.encoded == Self.carolHash)
        }

        @Test func parsedHashRoundTripsAndKeepsItsAlgorithm() throws {
            let pbkdf2 = try PasswordHash(encoded: Self.aliceHash[...])
            #expect(pbkdf2.algorithm == .pbkdf2SHA512(iterations: 101))
            #expect(pbkdf2.encoded == Self.aliceHash)
            let sha512 = try PasswordHash(encoded: Self.carolHash[...])
            #expect(sha512.algorithm == .sha512)
            #expect(sha512.encoded == Self.carolHash)
        }

        @Test func descriptionHidesSaltAndHash() throws {
            let hash = try PasswordHash(encoded: Self.aliceHash[...])
            #expect(hash.description == "PasswordHash(pbkdf2-sha512, 101 iterations)")
            #expect(String(describing: hash).contains("nMaX") == false)
        }

        @Test func makeEntryWritesAMosquittoStyleLineThatVerifies() throws {
            let entry = try PasswordFile.makeEntry(username: "alice", password: "s3cret")
            let fields = entry.split(separator: "$", omittingEmptySubsequences: false)
            #expect(fields.count == 5)
            #expect(fields[0] == "alice:" && fields[1] == "7" && fields[2] == "101")
            #expect(Data(base64Encoded: String(fields[3]))?.count == 12)
            #expect(Data(base64Encoded: String(fields[4]))?.count == 64)
            let file = try PasswordFile(contents: entry)
            #expect(file.verify(username: "alice", password: Array("s3cret".utf8)))
            #expect(!file.verify(username: "alice", password: Array("s3creT".utf8)))
        }

        @Test func makeEntryUsesAFreshSaltEachTime() throws {
            let first = try PasswordFile.makeEntry(username: "alice", password: "same")
            let second = try PasswordFile.makeEntry(username: "alice", password: "same")
            #expect(first != second)
        }

        @Test func makeEntryHonoursIterations() throws {
            let entry = try PasswordFile.makeEntry(username: "bob", password: Array("pw".utf8), iterations: 2000)
            #expect(entry.hasPrefix("bob:$7$2000$"))
            #expect(try PasswordFile(contents: entry).verify(username: "bob", password: Array("pw".utf8)))
        }

        @Test func makeEntryRejectsIterationsOutOfRange() {
            for iterations in [0, -1, PasswordHash.maximumIterations + 1] {
                #expect(throws: PasswordFileError(.invalidHash(.invalidIterations), line: nil)) {
                    try PasswordFile.makeEntry(username: "bob", password: "pw", iterations: iterations)
                }
            }
        }

        @Test(
            "user names that cannot round-trip are refused",
            arguments: ["", "a:b", "a\nb", "#alice", " alice", "alice\t"])
        func makeEntryRejectsInvalidUsername(username: String) {
            #expect(throws: PasswordFileError(.invalidUsername, line: nil)) {
                try PasswordFile.makeEntry(username: username, password: "pw")
            }
        }

        @Test func settingReplacesOrAppendsAndKeepsComments() throws {
            let original = "# users\nalice:\(Self.aliceHash)\n\ncarol:\(Self.carolHash)\n"
            let replaced = try PasswordFile.setting(username: "alice", password: "new", in: original)
            let lines = replaced.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count == 6)
            #expect(lines[0] == "# users" && lines[2] == "" && lines[3] == "carol:\(Self.carolHash)" && lines[5] == "")
            #expect(lines[1].hasPrefix("alice:$7$101$") && lines[1] != "alice:\(Self.aliceHash)")
            let file = try PasswordFile(contents: replaced)
            #expect(file.verify(username: "alice", password: Array("new".utf8)))
            #expect(file.verify(username: "carol", password: Array("hunter2".utf8)))

            let appended = try PasswordFile.setting(username: "dan", password: "pw", in: original)
            #expect(appended.hasPrefix(original))
            #expect(try PasswordFile(contents: appended).count == 3)
            #expect(try PasswordFile(contents: PasswordFile.setting(username: "x", password: "y", in: "")).count == 1)
        }

        @Test func removingDropsOnlyThatUser() throws {
            let original = "# users\nalice:\(Self.aliceHash)\ncarol:\(Self.carolHash)\n"
            let removed = PasswordFile.removing(username: "alice", from: original)
            #expect(removed == "# users\ncarol:\(Self.carolHash)\n")
            #expect(PasswordFile.removing(username: "nobody", from: original) == original)
            // A commented-out line naming the user is not an entry.
            #expect(PasswordFile.removing(username: "alice", from: "#alice:x\n") == "#alice:x\n")
        }
    }
}
