/// A password file line that cannot be used, or a user name that cannot be written to one. The description names
/// the line number and the kind of problem only: never the hash, the password or the rest of the line.
public struct PasswordFileError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The line has no `:` between user name and hash.
        case missingSeparator
        case emptyUsername
        /// The hash text after `username:` is not a `$6$` or `$7$` hash mosquitto_passwd would write.
        case invalidHash(PasswordHash.FormatError)
        /// The same user name appears on an earlier line.
        case duplicateUsername(firstLine: Int)
        /// For `makeEntry`: the name is empty, contains `:` or a line break, starts with `#`, or has blanks at
        /// either end (none of which survive a round trip through the file).
        case invalidUsername
    }

    public let kind: Kind
    /// The 1-based line number, or nil for errors not tied to a file line (`makeEntry`).
    public let line: Int?

    public init(_ kind: Kind, line: Int?) {
        self.kind = kind
        self.line = line
    }

    public var description: String {
        let what: String
        switch kind {
        case .missingSeparator: what = "missing ':' between user name and hash"
        case .emptyUsername: what = "empty user name"
        case .invalidHash(let error):
            switch error {
            case .unsupportedAlgorithm: what = "unsupported hash type (expected $6$ or $7$)"
            case .malformed: what = "malformed hash"
            case .invalidIterations: what = "invalid iteration count"
            case .invalidSalt: what = "invalid salt"
            case .invalidHashLength: what = "hash is not 64 bytes"
            }
        case .duplicateUsername(let first): what = "user name already defined on line \(first)"
        case .invalidUsername: what = "invalid user name"
        }
        guard let line else { return "password file: \(what)" }
        return "password file line \(line): \(what)"
    }
}
