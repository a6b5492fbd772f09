import BrokerActors
import MQTTCore
import Testing

extension AuthTests {
    @Suite("ACL file parsing")
    struct ACLParsingTests {
        static let goodLines: [(line: String, rule: String)] = [
            ("allow user:alice publish sensors/alice/#", "allow user:alice publish sensors/alice/#"),
            ("allow     client:dev-1   subscribe   cmd/dev-1/+", "allow client:dev-1 subscribe cmd/dev-1/+"),
            ("deny all subscribe $SYS/#", "deny all subscribe $SYS/#"),
            ("allow user:admin all #", "allow user:admin all #"),
            ("allow all all users/%u/#     # %u = username, %c = client id", "allow all all users/%u/#"),
            ("deny all all #", "deny all all #"),
            ("deny all all # # everything else", "deny all all #"),
            ("deny\tanonymous\tpublish\ta/b", "deny anonymous publish a/b"),
            ("ALLOW All PUBLISH x", "allow all publish x"),
            ("allow USER:Alice publish x", "allow user:Alice publish x"),
            ("allow all subscribe eq t/#", "allow all subscribe eq t/#"),
            ("allow all subscribe EQ t/+ # literal", "allow all subscribe eq t/+"),
            ("allow all all eq eq", "allow all all eq eq"),
            ("allow client:%weird:id publish a", "allow client:%weird:id publish a"),
            ("allow user:a:b publish a", "allow user:a:b publish a"),
            ("allow all all dev-%c/%u-x/+", "allow all all dev-%c/%u-x/+"),
            ("allow all publish 100%/ok", "allow all publish 100%/ok"),
            ("allow all publish $share", "allow all publish $share"),
        ]

        @Test("good lines", arguments: goodLines)
        func parsesGoodLine(line: String, rule: String) throws {
            let acl = try AccessControlList(contents: line)
            #expect(acl.rules.count == 1)
            #expect(acl.rules.first?.description == rule)
            #expect(acl.rules.first?.line == 1)
        }

        @Test func parsesFieldsOfTheExampleFile() throws {
            let acl = try AccessControlList(contents: ACLExamples.file)
            #expect(acl.rules.count == 6)
            #expect(acl.rules.map(\.line) == [2, 3, 4, 5, 6, 7])
            let first = try #require(acl.rules.first)
            #expect(first.decision == .allow)
            #expect(first.subject == .user("alice"))
            #expect(first.permission == .publish)
            #expect(first.topic.text == "sensors/alice/#" && !first.topic.isExact && !first.topic.hasPlaceholders)
            #expect(acl.rules[1].subject == .client("dev-1"))
            #expect(acl.rules[4].topic.hasPlaceholders)
            #expect(acl.noMatch == .allow)
        }

        static let badLines: [(line: String, kind: ACLParseError.Kind)] = [
            ("allow all publish", .missingColumns),
            ("allow", .missingColumns),
            ("permit all publish a", .unknownDecision("permit")),
            ("allow everyone publish a", .invalidSubject("everyone")),
            ("allow user: publish a", .invalidSubject("user:")),
            ("allow client: publish a", .invalidSubject("client:")),
            ("allow ipaddr:10.0.0.1 publish a", .invalidSubject("ipaddr:10.0.0.1")),
            ("allow all pub a", .unknownPermission("pub")),
            ("allow all readwrite a", .unknownPermission("readwrite")),
            ("allow all all eq", .missingTopicAfterEq),
            ("allow all all eq # comment", .unexpectedText("comment")),  // `eq #` is the filter, then "comment"
            ("allow all all a/#/b", .invalidTopicFilter("a/#/b")),
            ("allow all all a+", .invalidTopicFilter("a+")),
            ("allow all all #comment", .invalidTopicFilter("#comment")),
            ("allow all all eq a/b#", .invalidTopicFilter("a/b#")),
            ("allow all subscribe $share/g/a/#", .sharedSubscriptionPrefix("$share/g/a/#")),
            ("allow all subscribe $queue/a", .sharedSubscriptionPrefix("$queue/a")),
            ("allow all all a b", .unexpectedText("b")),
            ("allow all all a/b extra # comment", .unexpectedText("extra")),
        ]

        @Test("bad lines are rejected with their line number", arguments: badLines)
        func rejectsBadLine(line: String, kind: ACLParseError.Kind) {
            let contents = "# rules\n\nallow all publish ok\n\(line)\ndeny all all #\n"
            #expect(throws: ACLParseError(kind, line: 4)) { try AccessControlList(contents: contents) }
        }

        @Test func errorDescriptionNamesTheLine() {
            #expect(
                ACLParseError(.unknownPermission("pub"), line: 7).description
                    == "acl file line 7: unknown permission 'pub' (expected publish, subscribe or all)")
        }

        @Test func emptyFileHasNoRulesAndUsesTheDefault() throws {
            #expect(try AccessControlList(contents: "").rules.isEmpty)
            #expect(try AccessControlList(contents: "# nothing\n\n", noMatch: .deny).noMatch == .deny)
        }

        @Test func eachParsedListHasANewGeneration() throws {
            let a = try AccessControlList(contents: ACLExamples.file)
            let b = try AccessControlList(contents: ACLExamples.file)
            #expect(a.generation != b.generation)
        }
    }

    enum ACLExamples {
        /// The example from docs/auth.md.
        static let file = """
            # decision who            permission  topic-filter
            allow     user:alice     publish     sensors/alice/#
            allow     client:dev-1   subscribe   cmd/dev-1/+
            deny      all            subscribe   $SYS/#
            allow     user:admin     all         #
            allow     all            all         users/%u/#     # %u = username, %c = client id
            deny      all            all         #
            """
    }
}
