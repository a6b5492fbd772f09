import BrokerActors
import MQTTCore
import Testing

extension AuthTests {
    @Suite("TopicFilter covers and overlaps")
    struct TopicFilterCoverageTests {
        static let coversTable: [(rule: TopicFilter, subscription: TopicFilter, covered: Bool)] = [
            // `#` covers every non-`$` filter, including single levels and itself.
            ("#", "#", true),
            ("#", "a", true),
            ("#", "a/b/c", true),
            ("#", "+", true),
            ("#", "+/+/#", true),
            ("#", "/", true),
            // `a/#` also matches the parent level `a`.
            ("a/#", "a", true),
            ("a/#", "a/#", true),
            ("a/#", "a/b/+", true),
            ("a/#", "a/+/#", true),
            ("a/#", "b", false),
            ("a/#", "#", false),
            ("a/#", "+/#", false),
            ("a/b/#", "a", false),
            // Single-level wildcards.
            ("sensors/#", "sensors/+/temp", true),
            ("sensors/+", "sensors/#", false),
            ("sensors/+", "sensors/x", true),
            ("sensors/+", "sensors/+", true),
            ("sensors/+", "sensors", false),
            ("sensors/+", "sensors/x/y", false),
            ("sensors/+/temp", "sensors/+/temp", true),
            ("sensors/+/temp", "sensors/+/+", false),
            ("+/+", "a/#", false),
            ("+/+", "a/b", true),
            ("+/+", "+/b", true),
            ("+/+", "a", false),
            ("+", "a/b", false),
            ("a/+", "a/", true),  // `+` matches the empty level
            // Literals.
            ("a/b", "a/b", true),
            ("a/b", "a/c", false),
            ("a/b", "a/+", false),
            ("a/b", "a", false),
            ("a", "a/#", false),  // `a/#` also reaches a/x
            // `+/#` and `#` match the same topics (everything of one or more levels not starting with `$`).
            ("+/#", "#", true),
            ("+/#", "a", true),
            ("+/#", "+", true),
            ("+/+/#", "#", false),
            ("+/+/#", "a", false),
            // The `$` rule [MQTT-4.7.2-1]: a leading wildcard does not reach `$` topics.
            ("#", "$SYS/#", false),
            ("#", "$SYS/broker/uptime", false),
            ("+/#", "$SYS/#", false),
            ("+/broker/#", "$SYS/broker/load", false),
            ("$SYS/#", "$SYS/#", true),
            ("$SYS/#", "$SYS/broker/+", true),
            ("$SYS/#", "#", false),
            ("$SYS/+", "$SYS/#", false),
            ("a/#", "a/$x", true),  // `$` only matters in the first level
            ("a/+", "a/$x", true),
            // The share prefix is ignored on both sides.
            ("a/#", "$share/g/a/b", true),
            ("$share/g/a/+", "a/b", true),
            ("#", "$share/g/$SYS/x", false),
            ("#", "$queue/x/y", true),
        ]

        @Test("covers table", arguments: coversTable)
        func coversRow(rule: TopicFilter, subscription: TopicFilter, covered: Bool) {
            #expect(rule.covers(subscription) == covered)
        }

        static let overlapsTable: [(a: TopicFilter, b: TopicFilter, overlap: Bool)] = [
            ("#", "#", true),
            ("#", "a/b", true),
            ("a/#", "a", true),
            ("a/#", "+/b", true),
            ("a/+", "+/b", true),
            ("a/+", "b/+", false),
            ("a/b", "a/b/c", false),
            ("a/b", "a/b/#", true),
            ("a/+/c", "a/b/+", true),
            ("a/+/c", "a/b", false),
            ("+", "a/b", false),
            ("secret/#", "+/#", true),
            ("#", "$SYS/#", false),
            ("+/x", "$SYS/x", false),
            ("$SYS/#", "$SYS/+", true),
            ("$SYS/#", "+/+", false),
        ]

        @Test("overlaps table (symmetric)", arguments: overlapsTable)
        func overlapsRow(a: TopicFilter, b: TopicFilter, overlap: Bool) {
            #expect(a.overlaps(b) == overlap)
            #expect(b.overlaps(a) == overlap)
        }

        // MARK: - Exhaustive check against MQTTCore's matcher

        /// Every filter of up to three levels over `a`, `$s`, `+`, `#`.
        static let filters: [TopicFilter] = {
            let inner = ["a", "$s", "+"]
            var texts = ["a", "$s", "+", "#"]
            for first in inner {
                for last in inner + ["#"] { texts.append("\(first)/\(last)") }
                for middle in inner { for last in inner + ["#"] { texts.append("\(first)/\(middle)/\(last)") } }
            }
            return texts.map { TopicFilter(stringLiteral: $0) }
        }()

        /// Every topic of up to four levels over `a`, `c`, `$s` and the empty level: enough to tell any two of the
        /// filters above apart (`c` is a value no filter names; the fourth level exposes `#`).
        static let topics: [TopicName] = {
            let values = ["a", "c", "$s", ""]
            var levels: [[String]] = values.map { [$0] }
            var all = levels
            for _ in 1..<4 {
                levels = levels.flatMap { prefix in values.map { prefix + [$0] } }
                all += levels
            }
            return all.map { $0.joined(separator: "/") }.filter { !$0.isEmpty }.map { TopicName(stringLiteral: $0) }
        }()

        @Test func coversAndOverlapsAgreeWithTopicMatchingOnEveryPair() {
            let matched = Self.filters.map { filter in Set(Self.topics.filter { filter.matches($0) }) }
            var failures: [String] = []
            for (i, rule) in Self.filters.enumerated() {
                for (j, other) in Self.filters.enumerated() {
                    let covers = matched[j].isSubset(of: matched[i])
                    let overlaps = !matched[i].isDisjoint(with: matched[j])
                    if rule.covers(other) != covers { failures.append("covers(\(rule), \(other)) should be \(covers)") }
                    if rule.overlaps(other) != overlaps {
                        failures.append("overlaps(\(rule), \(other)) should be \(overlaps)")
                    }
                }
            }
            #expect(Self.filters.count == 52)
            #expect(failures.isEmpty, "\(failures.prefix(20))")
        }
    }
}
