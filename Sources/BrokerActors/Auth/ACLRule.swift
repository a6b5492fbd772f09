import MQTTCore

/// One line of an ACL file: `<allow|deny> <who> <publish|subscribe|all> [eq] <topic-filter>`.
public struct ACLRule: Sendable, Hashable, CustomStringConvertible {
    /// Whom a rule applies to (the `who` column).
    public enum Subject: Sendable, Hashable, CustomStringConvertible {
        /// Every client.
        case all
        /// Clients that connected without a user name.
        case anonymous
        /// Clients authenticated with this user name (compared byte for byte).
        case user(String)
        /// The client with this client identifier (compared byte for byte).
        case client(ClientID)

        func applies(to client: ClientIdentity) -> Bool {
            switch self {
            case .all: true
            case .anonymous: client.username == nil
            case .user(let name): client.username.map { $0.utf8.elementsEqual(name.utf8) } ?? false
            case .client(let id): client.clientID.value.utf8.elementsEqual(id.value.utf8)
            }
        }

        public var description: String {
            switch self {
            case .all: "all"
            case .anonymous: "anonymous"
            case .user(let name): "user:\(name)"
            case .client(let id): "client:\(id)"
            }
        }
    }

    /// Which actions a rule applies to (the permission column).
    public enum Permission: String, Sendable, Hashable, CustomStringConvertible {
        case publish
        case subscribe
        case all

        func includes(publish: Bool) -> Bool {
            switch self {
            case .all: true
            case .publish: publish
            case .subscribe: !publish
            }
        }

        public var description: String { rawValue }
    }

    public var decision: AccessControlList.Decision
    public var subject: Subject
    public var permission: Permission
    public var topic: ACLTopicPattern
    /// The line the rule came from, for logs ("denied by acl line 12"); nil for rules built in code.
    public var line: Int?

    public init(
        _ decision: AccessControlList.Decision, _ subject: Subject, _ permission: Permission, _ topic: ACLTopicPattern,
        line: Int? = nil
    ) {
        self.decision = decision
        self.subject = subject
        self.permission = permission
        self.topic = topic
        self.line = line
    }

    /// Whether this rule decides the action for this client.
    ///
    /// A PUBLISH matches when the rule's filter matches the topic. A SUBSCRIBE matches an `allow` rule only when
    /// the rule's filter covers the whole subscribed filter, and a `deny` rule as soon as the two overlap (some
    /// topic is matched by both): a subscription is never granted topics that a deny rule ahead of the granting
    /// allow rule forbids. Shared subscriptions are checked by their filter proper. `eq` rules match only the
    /// identical topic or filter text.
    ///
    /// The `$` rule [MQTT-4.7.2-1] fails closed both ways: an allow rule starting with a wildcard never grants a
    /// topic or filter starting with `$`, while a deny rule starting with a wildcard does deny them (`deny all all
    /// #` also denies `$SYS/...`). A subscription starting with a wildcard is never delivered `$` topics, so it does
    /// not overlap a `$SYS/#` deny rule.
    func matches(_ action: PreparedAction, client: ClientIdentity) -> Bool {
        guard permission.includes(publish: action.isPublish), subject.applies(to: client),
            let levels = topic.levels(for: client)
        else { return false }
        switch action {
        case .publish(let topicLevels):
            if topic.isExact {
                return levels.count == topicLevels.count
                    && zip(levels, topicLevels).allSatisfy { level, name in
                        if case .literal(let bytes) = level { return name.elementsEqual(bytes) }
                        return false
                    }
            }
            return levels.matches(topicLevels: topicLevels, dollarRule: decision == .allow)
        case .subscribe(let filterLevels):
            if topic.isExact { return levels == filterLevels }
            switch decision {
            case .allow: return levels.covers(filterLevels)
            case .deny: return levels.overlaps(filterLevels, dollarRuleForSelf: false)
            }
        }
    }

    /// The rule as a line of an ACL file.
    public var description: String { "\(decision) \(subject) \(permission) \(topic)" }
}

/// An action split into levels once, so each rule compares without re-parsing.
enum PreparedAction {
    case publish([Substring.UTF8View])
    case subscribe([FilterLevel])

    init(_ action: AccessControlList.Action) {
        switch action {
        case .publish(let topic):
            let utf8 = Substring(topic.value).utf8
            self = .publish(utf8.split(separator: FilterLevel.slash, omittingEmptySubsequences: false))
        case .subscribe(let filter):
            self = .subscribe(FilterLevel.levels(of: filter.filter))
        }
    }

    var isPublish: Bool {
        if case .publish = self { return true }
        return false
    }
}
