/// An ACL file line that cannot be used. The description names the line number and what was wrong.
public struct ACLParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Error, Sendable, Hashable {
        /// Fewer than four columns (decision, who, permission, topic filter).
        case missingColumns
        /// The first column is not `allow` or `deny`.
        case unknownDecision(String)
        /// The second column is not `all`, `anonymous`, `user:<name>` or `client:<id>`.
        case invalidSubject(String)
        /// The third column is not `publish`, `subscribe` or `all`.
        case unknownPermission(String)
        /// `eq` with no filter after it.
        case missingTopicAfterEq
        /// The topic column is not a valid topic filter (`+`/`#` misplaced, empty).
        case invalidTopicFilter(String)
        /// The topic column is a `$share/...` or `$queue/...` filter; rules name the filter proper.
        case sharedSubscriptionPrefix(String)
        /// Text after the topic filter that is not a `#` comment.
        case unexpectedText(String)
    }

    public let kind: Kind
    /// 1-based line number in the ACL file.
    public let line: Int

    public init(_ kind: Kind, line: Int) {
        self.kind = kind
        self.line = line
    }

    public var description: String {
        let what: String
        switch kind {
        case .missingColumns: what = "expected '<allow|deny> <who> <publish|subscribe|all> [eq] <topic-filter>'"
        case .unknownDecision(let text): what = "unknown decision '\(text)' (expected allow or deny)"
        case .invalidSubject(let text):
            what = "invalid subject '\(text)' (expected all, anonymous, user:<name> or client:<id>)"
        case .unknownPermission(let text): what = "unknown permission '\(text)' (expected publish, subscribe or all)"
        case .missingTopicAfterEq: what = "missing topic filter after 'eq'"
        case .invalidTopicFilter(let text): what = "invalid topic filter '\(text)'"
        case .sharedSubscriptionPrefix(let text): what = "rule topic '\(text)' must not have a $share/$queue prefix"
        case .unexpectedText(let text): what = "unexpected text '\(text)' after topic filter (comments start with #)"
        }
        return "acl file line \(line): \(what)"
    }
}
