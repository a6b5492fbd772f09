@testable import BrokerActors
import Testing

extension Routing {
    @Suite("UTF8Key")
    struct UTF8KeyTests {
        static let pairs: [(String, String, equal: Bool)] = [
            ("a", "a", true),
            ("", "", true),
            ("a", "b", false),
            ("a", "ab", false),
            ("$x", "$x", true),
            ("caf\u{E9}", "caf\u{E9}", true),
            // Canonically equivalent, so equal as Swift strings, but other bytes [MQTT-4.7.3-4].
            ("caf\u{E9}", "cafe\u{301}", false),
            ("\u{212B}", "\u{C5}", false),
            // Equivalent and of the same byte length: only a byte comparison tells them apart.
            ("\u{1E0B}\u{323}", "\u{1E0D}\u{307}", false),
            (String(repeating: "long-level-", count: 8), String(repeating: "long-level-", count: 8), true),
        ]

        @Test("compares bytes, not canonical equivalence", arguments: pairs)
        func equality(lhs: String, rhs: String, equal: Bool) {
            // A slice out of a longer text (as the matcher makes from a topic) against a whole string.
            let topic = "pre/" + lhs + "/post"
            let slice = topic.dropFirst(4).dropLast(5)
            #expect(Substring(lhs) == slice)
            #expect((UTF8Key(slice) == UTF8Key(rhs)) == equal)
            #expect((UTF8Key(lhs) == UTF8Key(rhs)) == equal)
            if equal { #expect(UTF8Key(slice).hashValue == UTF8Key(rhs).hashValue) }
        }

        @Test("wildcard and $ levels")
        func levelKinds() {
            #expect(UTF8Key("+").isWildcardPlus && !UTF8Key("+").isWildcardHash)
            #expect(UTF8Key("#").isWildcardHash && !UTF8Key("#").isWildcardPlus)
            #expect(!UTF8Key("++").isWildcardPlus && !UTF8Key("a#").isWildcardHash && !UTF8Key("").isWildcardPlus)
            #expect(UTF8Key("$SYS").isDollar && !UTF8Key("a$").isDollar && !UTF8Key("").isDollar)
        }
    }
}
