import MQTTCore
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Ordered allow/deny rules for PUBLISH and SUBSCRIBE: the first rule that matches decides, and `noMatch` (allow by
/// default, like EMQX's `no_match = allow`) decides when none does. See `ACLRule.matches` for what "matches" means
/// for each action, and docs/auth.md for the file format.
///
/// Pure and immutable: checking does no IO and takes no locks. Each value gets a fresh `generation`, so an
/// `ACLCache` notices when the connection is handed a reloaded list.
public struct AccessControlList: Sendable {
    /// What a client asks to do.
    public enum Action: Sendable, Hashable {
        /// Publish to this topic.
        case publish(TopicName)
        /// Subscribe to this filter (a shared subscription is checked by its filter proper).
        case subscribe(TopicFilter)
    }

    public enum Decision: String, Sendable, Hashable, CustomStringConvertible {
        case allow
        case deny

        public var description: String { rawValue }
    }

    public let rules: [ACLRule]
    /// The decision when no rule matches.
    public let noMatch: Decision
    /// Unique per list value made in this process; caches compare it to know when to drop their entries.
    public let generation: UInt64

    public init(rules: [ACLRule], noMatch: Decision = .allow) {
        self.rules = rules
        self.noMatch = noMatch
        self.generation = aclGenerationCounter.wrappingAdd(1, ordering: .relaxed).newValue
    }

    /// Parses an ACL file's text. Throws on the first unusable line, naming its number.
    public init(contents: String, noMatch: Decision = .allow) throws(ACLParseError) {
        var rules: [ACLRule] = []
        for line in ConfigLines.significantLines(of: contents) {
            rules.append(try ACLRule(parsing: line.text, line: line.number))
        }
        self.init(rules: rules, noMatch: noMatch)
    }

    /// Reads and parses a file (UTF-8).
    public init(contentsOfFile path: String, noMatch: Decision = .allow) throws {
        try self.init(contents: String(contentsOfFile: path, encoding: .utf8), noMatch: noMatch)
    }

    /// No rules: everything is allowed (the broker without an ACL file).
    public static var allowAll: AccessControlList { AccessControlList(rules: [], noMatch: .allow) }

    /// The decision for this client doing this action.
    public func check(_ action: Action, client: ClientIdentity) -> Decision {
        firstMatch(action, client: client)?.decision ?? noMatch
    }

    /// The rule that decides, or nil when `noMatch` does (for logging which line denied something).
    public func firstMatch(_ action: Action, client: ClientIdentity) -> ACLRule? {
        guard !rules.isEmpty else { return nil }
        let prepared = PreparedAction(action)
        return rules.first { $0.matches(prepared, client: client) }
    }
}

private let aclGenerationCounter = Atomic<UInt64>(0)
