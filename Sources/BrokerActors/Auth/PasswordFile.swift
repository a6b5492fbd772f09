#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A mosquitto-compatible password file: one `username:<hash>` per line, where the hash is `$7$` (PBKDF2-SHA512)
/// or `$6$` (salted SHA-512) exactly as `mosquitto_passwd` writes it. Blank lines and lines starting with `#` are
/// ignored; blanks around a line are trimmed. User names compare byte for byte, as in mosquitto.
///
/// Parsing is pure; `init(contentsOfFile:)` is the only IO.
public struct PasswordFile: Sendable {
    private let entries: [[UInt8]: PasswordHash]

    /// Parses the file's text. Throws on the first unusable line, naming its number (never its content).
    public init(contents: String) throws(PasswordFileError) {
        var entries: [[UInt8]: PasswordHash] = [:]
        var firstLine: [[UInt8]: Int] = [:]
        for line in ConfigLines.significantLines(of: contents) {
            guard let colon = line.text.firstIndex(of: ":") else {
                throw PasswordFileError(.missingSeparator, line: line.number)
            }
            let username = Array(line.text[..<colon].utf8)
            guard !username.isEmpty else { throw PasswordFileError(.emptyUsername, line: line.number) }
            let hash: PasswordHash
            do {
                hash = try PasswordHash(encoded: line.text[line.text.index(after: colon)...])
            } catch {
                throw PasswordFileError(.invalidHash(error), line: line.number)
            }
            if let first = firstLine[username] {
                throw PasswordFileError(.duplicateUsername(firstLine: first), line: line.number)
            }
            firstLine[username] = line.number
            entries[username] = hash
        }
        self.entries = entries
    }

    /// Reads and parses a file (UTF-8).
    public init(contentsOfFile path: String) throws {
        try self.init(contents: String(contentsOfFile: path, encoding: .utf8))
    }

    /// The number of users.
    public var count: Int { entries.count }

    public func contains(username: String) -> Bool { entries[Array(username.utf8)] != nil }

    /// Whether `username` is in the file and `password` matches its hash. An unknown user costs about the same
    /// as a wrong password, so response time does not reveal which user names exist.
    public func verify(username: String, password: some Collection<UInt8>) -> Bool {
        guard let hash = entries[Array(username.utf8)] else {
            _ = Self.unknownUserHash.verify(password: password)
            return false
        }
        return hash.verify(password: password)
    }

    /// Hashed against when the user is unknown, so that path does the same work as a real check.
    private static let unknownUserHash = PasswordHash(
        password: [], salt: [UInt8](repeating: 0, count: PasswordHash.defaultSaltByteCount),
        algorithm: .pbkdf2SHA512(iterations: PasswordHash.defaultIterations))
}

// MARK: - Writing entries

extension PasswordFile {
    /// A new line `username:$7$101$<salt>$<hash>` (no line break) with a fresh random salt, in the format
    /// `mosquitto_passwd` writes and reads. Throws `.invalidUsername` for a name the file cannot hold and
    /// `.invalidHash(.invalidIterations)` for iterations outside `1...PasswordHash.maximumIterations`.
    public static func makeEntry(
        username: String, password: some Collection<UInt8>, iterations: Int = PasswordHash.defaultIterations
    ) throws(PasswordFileError) -> String {
        try validateUsername(username)
        guard (1...PasswordHash.maximumIterations).contains(iterations) else {
            throw PasswordFileError(.invalidHash(.invalidIterations), line: nil)
        }
        return "\(username):\(PasswordHash.make(password: password, iterations: iterations).encoded)"
    }

    /// `makeEntry` for a password given as text (its UTF-8 bytes are hashed, as mosquitto_passwd does).
    public static func makeEntry(
        username: String, password: String, iterations: Int = PasswordHash.defaultIterations
    ) throws(PasswordFileError) -> String {
        try makeEntry(username: username, password: Array(password.utf8), iterations: iterations)
    }

    /// The file text with the user's line replaced by a new entry, or the entry appended when the user is new.
    /// Comments, blank lines and other users' lines are kept as they are.
    public static func setting(
        username: String, password: some Collection<UInt8>, in contents: String
    ) throws(PasswordFileError) -> String {
        let entry = try makeEntry(username: username, password: password)
        var lines = rawLines(of: contents)
        if let index = lines.firstIndex(where: { isEntry($0, for: username) }) {
            lines[index] = entry
            lines.removeAll { $0 != entry && isEntry($0, for: username) }
        } else {
            if lines.last == "" { lines.removeLast() }
            lines.append(entry)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `setting` for a password given as text.
    public static func setting(username: String, password: String, in contents: String) throws(PasswordFileError)
        -> String
    {
        try setting(username: username, password: Array(password.utf8), in: contents)
    }

    /// The file text without the user's line; unchanged when the user is not there.
    public static func removing(username: String, from contents: String) -> String {
        var lines = rawLines(of: contents)
        guard lines.contains(where: { isEntry($0, for: username) }) else { return contents }
        lines.removeAll { isEntry($0, for: username) }
        if lines.last == "" { lines.removeLast() }
        return lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n"
    }

    static func validateUsername(_ username: String) throws(PasswordFileError) {
        let valid =
            !username.isEmpty && !username.contains(":") && !username.contains(where: \.isNewline)
            && username.first != "#" && ConfigLines.trimmed(Substring(username)).count == username.count
        guard valid else { throw PasswordFileError(.invalidUsername, line: nil) }
    }

    private static func rawLines(of contents: String) -> [String] {
        contents.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map {
            String(Substring($0))
        }
    }

    private static func isEntry(_ line: String, for username: String) -> Bool {
        let text = ConfigLines.trimmed(Substring(line))
        guard text.first != "#", let colon = text.firstIndex(of: ":") else { return false }
        return text[..<colon].utf8.elementsEqual(username.utf8)
    }
}
