import Testing

@testable import MQTTCore

@Suite("Topics")
struct TopicTests {
    // MARK: Validation

    static let validNames = [
        "a", "a/b", "/", "//", "/finance", "finance/", "$SYS/broker/load", "sport/tennis/player1", " ", "a b/c d",
        "ü/€/✓", "$share/g/a", String(repeating: "x", count: 65_535),
    ]

    static let invalidNames: [(String, String)] = [
        ("", "[MQTT-4.7.3-1] empty"),
        ("a/+", "[MQTT-3.3.2-2] single-level wildcard"),
        ("+", "[MQTT-3.3.2-2] single-level wildcard alone"),
        ("#", "[MQTT-3.3.2-2] multi-level wildcard"),
        ("a#", "[MQTT-3.3.2-2] wildcard inside a level"),
        ("a\u{0}b", "[MQTT-4.7.3-2] U+0000"),
        (String(repeating: "x", count: 65_536), "[MQTT-4.7.3-3] longer than 65535 bytes"),
        (String(repeating: "é", count: 32_768), "[MQTT-4.7.3-3] 65536 bytes in 32768 characters"),
    ]

    @Test("valid topic names", arguments: validNames)
    func validName(_ name: String) throws {
        #expect(try TopicName(validating: name).value == name)
    }

    @Test("invalid topic names", arguments: invalidNames)
    func invalidName(_ name: String, _ rule: String) {
        let error = protocolError { () throws(MQTTProtocolError) in _ = try TopicName(validating: name) }
        #expect(error?.code == .topicNameInvalid, "\(rule)")
    }

    static let validFilters = [
        "#", "+", "+/+", "a/#", "a/+/b", "/", "/+", "+/", "//", "$SYS/#", "sport/+/player1", "+/tennis/#",
        "$share/g/a/#", "$share/group-1/+", "$queue/a/+", "$share", "$sharex/a", "$queue", "a/$share/b",
        String(repeating: "x", count: 65_535),
    ]

    static let invalidFilters: [(String, String)] = [
        ("", "[MQTT-4.7.3-1] empty"),
        ("a#", "[MQTT-4.7.1-1] '#' sharing a level"),
        ("#/a", "[MQTT-4.7.1-1] '#' not last"),
        ("a/#/b", "[MQTT-4.7.1-1] '#' in the middle"),
        ("a/##", "[MQTT-4.7.1-1] '##'"),
        ("a+", "[MQTT-4.7.1-2] '+' after a character"),
        ("+a", "[MQTT-4.7.1-2] '+' before a character"),
        ("a/b+/c", "[MQTT-4.7.1-2] '+' inside a level"),
        ("++", "[MQTT-4.7.1-2] '++'"),
        ("a\u{0}", "[MQTT-4.7.3-2] U+0000"),
        ("$share/g", "[MQTT-4.8.2-2] share name not followed by '/'"),
        ("$share/g/", "[MQTT-4.8.2-2] no filter after the share name"),
        ("$share//a", "[MQTT-4.8.2-1] empty share name"),
        ("$share/g+/a", "[MQTT-4.8.2-2] '+' in share name"),
        ("$share/#/a", "[MQTT-4.8.2-2] '#' in share name"),
        ("$share/g/a#", "[MQTT-4.7.1-1] bad filter after a share name"),
        ("$queue/", "no filter after $queue/"),
        (String(repeating: "x", count: 65_536), "[MQTT-4.7.3-3] longer than 65535 bytes"),
    ]

    @Test("valid topic filters", arguments: validFilters)
    func validFilter(_ filter: String) throws {
        #expect(try TopicFilter(validating: filter).rawValue == filter)
    }

    @Test("invalid topic filters", arguments: invalidFilters)
    func invalidFilter(_ filter: String, _ rule: String) {
        let error = protocolError { () throws(MQTTProtocolError) in _ = try TopicFilter(validating: filter) }
        #expect(error?.code == .topicFilterInvalid, "\(rule)")
    }

    // MARK: Shared subscriptions

    @Test(
        "shared subscription parsing",
        arguments: [
            ("$share/g/a/b", "g", "a/b"),
            ("$share/group-1/#", "group-1", "#"),
            ("$share/g/$SYS/#", "g", "$SYS/#"),
            ("$share/g//", "g", "/"),
            ("$share/$share/x", "$share", "x"),
            ("$queue/a/+", "$queue", "a/+"),
            ("$queue/$share/g/x", "$queue", "$share/g/x"),
            ("a/b", nil, "a/b"),
            ("$share", nil, "$share"),
            ("$SYS/#", nil, "$SYS/#"),
        ] as [(String, String?, String)])
    func shared(raw: String, group: String?, filter: String) throws {
        let parsed = try TopicFilter(validating: raw)
        #expect(parsed.shareGroup == group)
        #expect(parsed.filter == filter)
        #expect(parsed.isShared == (group != nil))
        #expect(parsed.rawValue == raw)
        #expect(parsed.description == raw)
    }

    @Test("filter helpers: wildcards, levels and the first literal level")
    func filterHelpers() throws {
        let shared = try TopicFilter(validating: "$share/g/+/b")
        #expect(shared.hasWildcards)
        #expect(shared.levels == ["+", "b"])
        #expect(shared.literalFirstLevel == nil)
        let plain = try TopicFilter(validating: "a//c")
        #expect(!plain.hasWildcards)
        #expect(plain.levels == ["a", "", "c"])
        #expect(plain.literalFirstLevel == "a")
        #expect(plain.isExactly("a//c"))
        #expect(!plain.isExactly("a/c"))
        #expect(try TopicFilter(validating: "#").literalFirstLevel == nil)
        #expect(try TopicFilter(validating: "/x").literalFirstLevel == "")
        let name: TopicName = "/a//b"
        #expect(name.levels == ["", "a", "", "b"])
        #expect(name.firstLevel == "")
        #expect(TopicName("$SYS/x").isSystemTopic)
        #expect(!TopicName("x/$SYS").isSystemTopic)
    }

    // MARK: Matching

    static let matching: [(String, String, Bool)] = [
        ("#", "a", true),
        ("#", "a/b/c", true),
        ("#", "/", true),
        ("#", "$SYS/x", false),  // [MQTT-4.7.2-1]
        ("#", "$SYS", false),
        ("+", "$SYS", false),
        ("+/x", "$SYS/x", false),  // [MQTT-4.7.2-1]
        ("+/#", "$SYS/x", false),
        ("$SYS/#", "$SYS/x", true),
        ("$SYS/#", "$SYS", true),
        ("$SYS/+", "$SYS/x", true),
        ("$SYS/#", "$SYSX/x", false),
        ("$SYS/x", "$SYS/x", true),
        ("a/$SYS", "a/$SYS", true),
        ("+/$SYS", "a/$SYS", true),  // the rule is about the first level only
        ("#", "a/$SYS", true),
        ("a/#", "a", true),  // '#' includes the parent level
        ("a/#", "a/", true),
        ("a/#", "a/b/c", true),
        ("a/#", "ab", false),
        ("a/#", "b/a", false),
        ("a/+", "a", false),
        ("a/+", "a/", true),  // '+' matches an empty level
        ("a/+", "a/b/c", false),
        ("+", "a", true),
        ("+", "/", false),
        ("+/+", "/", true),
        ("+/+", "/finance", true),
        ("/+", "/finance", true),
        ("+", "/finance", false),
        ("+/#", "a", true),
        ("sport/tennis/+", "sport/tennis/player1", true),
        ("sport/tennis/+", "sport/tennis/player1/ranking", false),
        ("sport/#", "sport", true),
        ("sport/+", "sport", false),
        ("sport/+/player1", "sport/tennis/player1", true),
        ("a/b", "a/b", true),
        ("a/b", "a/b/", false),
        ("a/b", "A/b", false),
        ("a//b", "a//b", true),
        ("a/+/b", "a//b", true),
        ("ü/+", "ü/€", true),
        ("$share/g/a/+", "a/b", true),
        ("$share/g/#", "$SYS/x", false),
        ("$share/g/$SYS/#", "$SYS/x", true),
        ("$queue/#", "a/b", true),
        ("$share/g/a", "$share/g/a", false),  // a shared filter matches its filter proper, not its raw text
    ]

    @Test("filter matching", arguments: matching)
    func matches(filter: String, topic: String, expected: Bool) throws {
        let parsedFilter = try TopicFilter(validating: filter)
        let parsedTopic = try TopicName(validating: topic)
        #expect(parsedFilter.matches(parsedTopic) == expected)
    }

    /// A reference matcher written from the spec's wording, level by level.
    static func referenceMatches(filter: [String], topic: [String]) -> Bool {
        if topic[0].hasPrefix("$"), filter[0] == "+" || filter[0] == "#" { return false }
        func go(_ f: ArraySlice<String>, _ t: ArraySlice<String>) -> Bool {
            guard let head = f.first else { return t.isEmpty }
            if head == "#" { return true }
            guard let level = t.first else { return false }
            return (head == "+" || head == level) && go(f.dropFirst(), t.dropFirst())
        }
        return go(filter[...], topic[...])
    }

    /// All sequences of 1...maxLevels levels drawn from `alphabet`.
    static func sequences(_ alphabet: [String], maxLevels: Int) -> [[String]] {
        var all: [[String]] = []
        var frontier: [[String]] = [[]]
        for _ in 1...maxLevels {
            frontier = frontier.flatMap { prefix in alphabet.map { prefix + [$0] } }
            all += frontier
        }
        return all
    }

    @Test("matching agrees with the reference matcher on every small topic and filter")
    func exhaustiveSmall() throws {
        let topics = Self.sequences(["a", "b", "$s", ""], maxLevels: 3).filter { $0 != [""] }
        let bodies = Self.sequences(["a", "+", "$s", ""], maxLevels: 3)
        let filters = (bodies + bodies.map { $0 + ["#"] } + [["#"]]).filter { $0 != [""] }
        var checked = 0
        var matched = 0
        for f in filters {
            let filter = try TopicFilter(validating: f.joined(separator: "/"))
            for t in topics {
                let expected = Self.referenceMatches(filter: f, topic: t)
                #expect(filter.matches(try TopicName(validating: t.joined(separator: "/"))) == expected, "\(f) \(t)")
                checked += 1
                if expected { matched += 1 }
            }
        }
        #expect(checked > 10_000)
        #expect(matched > 500)  // the space contains plenty of matches, not only misses
    }

    @Test("matching agrees with the reference matcher on seeded random deep topics")
    func randomDeep() throws {
        var rng = SplitMix64(seed: 4_711)
        let words = ["a", "b", "c", "$x", "", "ab"]
        func pick<T>(_ items: [T]) -> T { items[Int(rng.next() % UInt64(items.count))] }
        var matched = 0
        for _ in 0..<20_000 {
            let topic = (0..<(1 + Int(rng.next() % 7))).map { _ in pick(words) }
            var filter: [String]
            if rng.next() % 3 == 0 {
                // Derive a filter from the topic so that matches are common.
                filter = topic.map { rng.next() % 3 == 0 ? "+" : $0 }
                if rng.next() % 2 == 0 {
                    filter = Array(filter.prefix(Int(rng.next() % UInt64(filter.count + 1)))) + ["#"]
                }
            } else {
                filter = (0..<(1 + Int(rng.next() % 7))).map { _ in pick(words + ["+"]) }
                if rng.next() % 4 == 0 { filter.append("#") }
            }
            let rawTopic = topic.joined(separator: "/")
            let rawFilter = filter.joined(separator: "/")
            guard !rawTopic.isEmpty, !rawFilter.isEmpty else { continue }
            let expected = Self.referenceMatches(filter: filter, topic: topic)
            let actual = try TopicFilter(validating: rawFilter).matches(TopicName(validating: rawTopic))
            #expect(actual == expected, "\(rawFilter) vs \(rawTopic)")
            if expected { matched += 1 }
        }
        #expect(matched > 1_000)
    }

    // MARK: Client identifiers and packet identifiers

    @Test("client identifiers")
    func clientIDs() {
        #expect((try? ClientID(validating: "client-1"))?.value == "client-1")
        #expect((try? ClientID(validating: String(repeating: "x", count: 65_535))) != nil)
        for bad in ["", "a\u{0}b", String(repeating: "x", count: 65_536)] {
            let error = protocolError { () throws(MQTTProtocolError) in _ = try ClientID(validating: bad) }
            #expect(error?.code == .clientIdentifierNotValid)
        }
    }

    @Test("packet identifiers are 1...65535 and wrap to 1 [MQTT-2.2.1-3]")
    func packetIDs() {
        #expect(PacketID(rawValue: 0) == nil)
        #expect(PacketID(rawValue: 1)?.next.rawValue == 2)
        #expect(PacketID(rawValue: 65_535)?.next.rawValue == 1)
    }
}
