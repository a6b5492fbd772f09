import MQTTCore

extension ACLRule {
    /// Parses one significant (trimmed, non-comment) ACL line:
    /// `<allow|deny> <who> <publish|subscribe|all> [eq] <topic-filter> [# comment]`, columns separated by blanks.
    /// Keywords are case-insensitive; user names, client ids and filters are not.
    init(parsing text: Substring, line: Int) throws(ACLParseError) {
        let tokens = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard tokens.count >= 4 else { throw ACLParseError(.missingColumns, line: line) }

        let decision: AccessControlList.Decision
        switch tokens[0].lowercased() {
        case "allow": decision = .allow
        case "deny": decision = .deny
        default: throw ACLParseError(.unknownDecision(String(tokens[0])), line: line)
        }

        guard let subject = Self.subject(tokens[1]) else {
            throw ACLParseError(.invalidSubject(String(tokens[1])), line: line)
        }

        guard let permission = Permission(rawValue: tokens[2].lowercased()) else {
            throw ACLParseError(.unknownPermission(String(tokens[2])), line: line)
        }

        var index = 3
        let exact = tokens[index].lowercased() == "eq"
        if exact {
            index += 1
            guard index < tokens.count else { throw ACLParseError(.missingTopicAfterEq, line: line) }
        }
        let topic: ACLTopicPattern
        do { topic = try ACLTopicPattern(String(tokens[index]), exact: exact) } catch {
            throw ACLParseError(error, line: line)
        }
        index += 1
        // Whatever follows the filter must be a comment. (A filter `#` is the topic, so the comment needs a blank
        // after the filter: `deny all all # # everything else`.)
        if index < tokens.count, tokens[index].first != "#" {
            throw ACLParseError(.unexpectedText(String(tokens[index])), line: line)
        }
        self.init(decision, subject, permission, topic, line: line)
    }

    private static func subject(_ token: Substring) -> Subject? {
        switch token.lowercased() {
        case "all": return .all
        case "anonymous": return .anonymous
        default: break
        }
        guard let colon = token.firstIndex(of: ":") else { return nil }
        let value = String(token[token.index(after: colon)...])
        switch token[..<colon].lowercased() {
        case "user":
            return value.isEmpty ? nil : .user(value)
        case "client":
            return (try? ClientID(validating: value)).map(Subject.client)
        default:
            return nil
        }
    }
}
