import MQTTCore

/// The topic column of an ACL rule: a topic filter that may contain `%u` (user name) and `%c` (client id)
/// anywhere within a level, optionally in the `eq` form that matches the filter text literally.
public struct ACLTopicPattern: Sendable, Hashable, CustomStringConvertible {
    /// The filter as written, placeholders included.
    public let text: String
    /// The `eq` form: a PUBLISH topic or SUBSCRIBE filter must equal the (substituted) text; wildcards in it are
    /// plain characters.
    public let isExact: Bool

    enum Part: Sendable, Hashable {
        case literal([UInt8])
        case username
        case clientID
    }

    enum Level: Sendable, Hashable {
        case fixed(FilterLevel)
        case template([Part])
    }

    let levels: [Level]
    /// The levels when there are no placeholders, precomputed so most checks do no substitution.
    let fixedLevels: [FilterLevel]?

    public init(_ text: String, exact: Bool = false) throws(ACLParseError.Kind) {
        let filter: TopicFilter
        do { filter = try TopicFilter(validating: text) } catch { throw .invalidTopicFilter(text) }
        guard !filter.isShared else { throw .sharedSubscriptionPrefix(text) }
        self.text = text
        self.isExact = exact
        let plain = FilterLevel.levels(of: text)
        let levels = plain.map(Self.template(for:))
        self.levels = levels
        self.fixedLevels = levels == plain.map(Level.fixed) ? plain : nil
    }

    public var hasPlaceholders: Bool { fixedLevels == nil }

    public var description: String { isExact ? "eq \(text)" : text }

    /// The filter levels for this client, or nil when a placeholder cannot be filled safely: `%u` for an anonymous
    /// client, or a user name or client id that is empty or contains `/`, `+` or `#` (it would change the filter's
    /// shape), or that starts with `$` at the start of the filter (it would reach `$SYS`-like topics).
    func levels(for client: ClientIdentity) -> [FilterLevel]? {
        if let fixedLevels { return fixedLevels }
        var resolved: [FilterLevel] = []
        resolved.reserveCapacity(levels.count)
        for (index, level) in levels.enumerated() {
            switch level {
            case .fixed(let fixed):
                resolved.append(fixed)
            case .template(let parts):
                var bytes: [UInt8] = []
                for (partIndex, part) in parts.enumerated() {
                    let value: Substring.UTF8View
                    switch part {
                    case .literal(let literal):
                        bytes += literal
                        continue
                    case .username:
                        guard let username = client.username else { return nil }
                        value = Substring(username).utf8
                    case .clientID:
                        value = Substring(client.clientID.value).utf8
                    }
                    guard Self.isSafeSubstitution(value, atTopicStart: index == 0 && partIndex == 0) else { return nil }
                    bytes += value
                }
                resolved.append(.literal(bytes))
            }
        }
        return resolved
    }

    private static func isSafeSubstitution(_ value: Substring.UTF8View, atTopicStart: Bool) -> Bool {
        guard let first = value.first else { return false }
        if atTopicStart, first == FilterLevel.dollar { return false }
        return !value.contains { $0 == FilterLevel.slash || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") }
    }

    private static func template(for level: FilterLevel) -> Level {
        guard case .literal(let bytes) = level else { return .fixed(level) }
        var parts: [Part] = []
        var literal: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 1 < bytes.count,
                bytes[index + 1] == UInt8(ascii: "u") || bytes[index + 1] == UInt8(ascii: "c")
            {
                if !literal.isEmpty { parts.append(.literal(literal)) }
                literal = []
                parts.append(bytes[index + 1] == UInt8(ascii: "u") ? .username : .clientID)
                index += 2
            } else {
                literal.append(bytes[index])
                index += 1
            }
        }
        guard !parts.isEmpty else { return .fixed(level) }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        return .template(parts)
    }
}
