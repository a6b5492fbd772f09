/// One level of a topic filter, as bytes: the shape the ACL's matching, covering and overlapping work on.
///
/// All three relations apply the `$` rule of [MQTT-4.7.2-1]: a filter whose first level is a wildcard (`+` or `#`)
/// does not match a topic whose first level starts with `$`.
enum FilterLevel: Sendable, Hashable {
    case literal([UInt8])
    /// `+`
    case single
    /// `#`
    case multi

    static let slash = UInt8(ascii: "/")
    static let dollar = UInt8(ascii: "$")

    /// Splits a (valid) topic filter on `/`, keeping empty levels.
    static func levels(of filter: String) -> [FilterLevel] {
        filter.utf8.split(separator: slash, omittingEmptySubsequences: false).map { level in
            if level.count == 1, level.first == UInt8(ascii: "+") { return .single }
            if level.count == 1, level.first == UInt8(ascii: "#") { return .multi }
            return .literal(Array(level))
        }
    }

    var isWildcard: Bool {
        switch self {
        case .literal: false
        case .single, .multi: true
        }
    }

    /// Whether this is a literal level whose first byte is `$` (a system or reserved topic root).
    var isDollarLiteral: Bool {
        if case .literal(let bytes) = self { return bytes.first == FilterLevel.dollar }
        return false
    }
}

extension Array where Element == FilterLevel {
    /// Whether the filter matches the topic, given as its levels. With `dollarRule` false a leading wildcard also
    /// matches `$` topics (how deny rules read, so that they fail closed).
    func matches(topicLevels topic: [Substring.UTF8View], dollarRule: Bool = true) -> Bool {
        if dollarRule, let first = self.first, first.isWildcard, topic.first?.first == FilterLevel.dollar {
            return false
        }
        var index = 0
        while index < count {
            switch self[index] {
            case .multi:
                return true  // also matches the parent level: `a/#` matches `a`
            case .single:
                guard index < topic.count else { return false }
            case .literal(let bytes):
                guard index < topic.count, topic[index].elementsEqual(bytes) else { return false }
            }
            index += 1
        }
        return index == topic.count
    }

    /// Whether every topic the `subscription` filter matches is also matched by this filter.
    ///
    /// Walks both level by level: a literal is covered by the same literal or `+`; `+` only by `+`; `#` only by
    /// `#`, except that the whole-tree subscription `#` is also covered by `+/#` (both match every topic of one or
    /// more levels that does not start with `$`). A subscription that ends where this filter continues is covered
    /// only when the rest of this filter is exactly `#` (which matches the parent level).
    func covers(_ subscription: [FilterLevel]) -> Bool {
        // [MQTT-4.7.2-1]: a leading wildcard does not reach `$` topics, so it cannot cover a `$` subscription.
        if let first = self.first, first.isWildcard, subscription.first?.isDollarLiteral == true { return false }
        if subscription == [.multi] { return self == [.multi] || self == [.single, .multi] }
        var index = 0
        while index < count {
            let rule = self[index]
            if rule == .multi { return true }
            guard index < subscription.count else { return false }  // the subscription stops short of the rule
            switch (rule, subscription[index]) {
            case (.single, .single), (.single, .literal):
                break
            case (.literal(let a), .literal(let b)) where a == b:
                break
            default:
                return false
            }
            index += 1
        }
        return index == subscription.count
    }

    /// Whether at least one topic is matched by both filters. With `dollarRuleForSelf` false, this filter's
    /// leading wildcard also reaches `$` topics (a deny rule), while `other`'s still does not (a subscription, which
    /// is never delivered `$` topics through a leading wildcard).
    func overlaps(_ other: [FilterLevel], dollarRuleForSelf: Bool = true) -> Bool {
        if let a = self.first, let b = other.first {
            // A leading wildcard never meets a `$` literal [MQTT-4.7.2-1].
            if dollarRuleForSelf, a.isWildcard, b.isDollarLiteral { return false }
            if b.isWildcard, a.isDollarLiteral { return false }
        }
        var index = 0
        while index < count, index < other.count {
            switch (self[index], other[index]) {
            case (.multi, _), (_, .multi):
                return true
            case (.literal(let a), .literal(let b)) where a != b:
                return false
            default:
                index += 1
            }
        }
        // Both ended together, or the longer one goes on only with `#` (which matches the parent level).
        let rest = index < count ? self[index...] : other[index...]
        return rest.isEmpty || Array(rest) == [.multi]
    }
}
