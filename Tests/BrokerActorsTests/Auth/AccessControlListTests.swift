import BrokerActors
import MQTTCore
import Testing

extension AuthTests {
    @Suite("AccessControlList checks")
    struct AccessControlListTests {
        static let alice = ClientIdentity(clientID: "a1", username: "alice")
        static let bob = ClientIdentity(clientID: "b1", username: "bob")
        static let admin = ClientIdentity(clientID: "adm", username: "admin")
        static let device = ClientIdentity(clientID: "dev-1")
        static let anonymous = ClientIdentity(clientID: "anon")

        typealias Action = AccessControlList.Action

        static func pub(_ topic: TopicName) -> Action { .publish(topic) }
        static func sub(_ filter: TopicFilter) -> Action { .subscribe(filter) }

        /// (client, action, decision, deciding line or nil for the default) against `ACLExamples.file`.
        typealias Decision = AccessControlList.Decision

        static let exampleTable: [(client: ClientIdentity, action: Action, decision: Decision, line: Int?)] = [
            (alice, pub("sensors/alice/temp"), .allow, 2),
            (alice, pub("sensors/alice"), .allow, 2),  // `#` matches the parent level
            (alice, pub("sensors/bob/temp"), .deny, 7),
            (alice, sub("sensors/alice/#"), .deny, 7),  // rule 2 is publish-only
            (alice, pub("users/alice/x"), .allow, 6),
            (alice, pub("users/bob/x"), .deny, 7),
            (alice, sub("users/alice/+"), .allow, 6),
            (alice, sub("users/+/x"), .deny, 7),  // not covered by users/alice/#
            (alice, sub("$share/g/users/alice/#"), .allow, 6),  // shared: the filter proper is checked
            (alice, sub("$share/g/sensors/alice/#"), .deny, 7),
            (bob, pub("users/bob/inbox"), .allow, 6),
            (device, sub("cmd/dev-1/+"), .allow, 3),
            (device, sub("cmd/dev-1/reboot"), .allow, 3),
            (device, sub("$queue/cmd/dev-1/reboot"), .allow, 3),
            (device, sub("cmd/dev-1/#"), .deny, 7),  // `+` does not cover `#`
            (device, pub("cmd/dev-1/reboot"), .deny, 7),  // rule 3 is subscribe-only
            (device, pub("users/dev-1/x"), .deny, 7),  // %u never matches an anonymous client
            (admin, sub("$SYS/#"), .deny, 4),  // first match: the $SYS deny comes before admin's allow
            (admin, sub("$SYS/broker/load"), .deny, 4),
            (admin, sub("#"), .allow, 5),  // `#` is never delivered $SYS topics, so rule 4 does not apply
            (admin, pub("anything/at/all"), .allow, 5),
            // Admin's `#` does not grant $ topics, and `deny all all #` denies them.
            (admin, pub("$SYS/broker/x"), .deny, 7),
            (anonymous, pub("a"), .deny, 7),
            (anonymous, sub("#"), .deny, 7),
        ]

        @Test("example file", arguments: exampleTable)
        func exampleFile(client: ClientIdentity, action: Action, decision: Decision, line: Int?) throws {
            let acl = try AccessControlList(contents: ACLExamples.file)
            #expect(acl.check(action, client: client) == decision)
            #expect(acl.firstMatch(action, client: client)?.line == line)
        }

        @Test func firstMatchingRuleWins() throws {
            let denyFirst = try AccessControlList(contents: "deny user:alice publish a/#\nallow all publish a/#")
            #expect(denyFirst.check(.publish("a/b"), client: Self.alice) == .deny)
            #expect(denyFirst.check(.publish("a/b"), client: Self.bob) == .allow)
            let allowFirst = try AccessControlList(contents: "allow all publish a/#\ndeny user:alice publish a/#")
            #expect(allowFirst.check(.publish("a/b"), client: Self.alice) == .allow)
        }

        @Test func noMatchDefaultIsConfigurable() throws {
            let rules = "allow user:alice publish a"
            #expect(try AccessControlList(contents: rules).check(.publish("b"), client: Self.alice) == .allow)
            let strict = try AccessControlList(contents: rules, noMatch: .deny)
            #expect(strict.check(.publish("b"), client: Self.alice) == .deny)
            #expect(strict.check(.publish("a"), client: Self.alice) == .allow)
            #expect(strict.firstMatch(.publish("b"), client: Self.alice) == nil)
            #expect(AccessControlList.allowAll.check(.subscribe("$SYS/#"), client: Self.anonymous) == .allow)
        }

        @Test func subjectsSelectClients() throws {
            let acl = try AccessControlList(
                contents: """
                    allow anonymous publish anon
                    allow user:alice publish alice
                    allow client:b1 publish b1
                    allow all publish everyone
                    """, noMatch: .deny)
            let cases: [(ClientIdentity, TopicName, AccessControlList.Decision)] = [
                (Self.anonymous, "anon", .allow), (Self.alice, "anon", .deny),
                (Self.alice, "alice", .allow), (ClientIdentity(clientID: "a2", username: "Alice"), "alice", .deny),
                (Self.bob, "b1", .allow), (ClientIdentity(clientID: "b1"), "b1", .allow), (Self.alice, "b1", .deny),
                (Self.anonymous, "everyone", .allow), (Self.bob, "everyone", .allow),
            ]
            for (client, topic, decision) in cases {
                #expect(acl.check(.publish(topic), client: client) == decision, "\(client) \(topic)")
            }
        }

        @Test func usernameAndClientIDPlaceholders() throws {
            let acl = try AccessControlList(
                contents: """
                    allow all all users/%u/#
                    allow all publish clients/%c/#
                    allow all publish dev-%c/%u-status
                    """, noMatch: .deny)
            #expect(acl.check(.publish("users/alice/x"), client: Self.alice) == .allow)
            #expect(acl.check(.subscribe("users/alice/#"), client: Self.alice) == .allow)
            #expect(acl.check(.subscribe("users/bob/#"), client: Self.alice) == .deny)
            #expect(acl.check(.publish("clients/a1/state"), client: Self.alice) == .allow)
            #expect(acl.check(.publish("clients/b1/state"), client: Self.alice) == .deny)
            #expect(acl.check(.publish("clients/anon/state"), client: Self.anonymous) == .allow)
            #expect(acl.check(.publish("dev-a1/alice-status"), client: Self.alice) == .allow)
            #expect(acl.check(.publish("dev-a1/bob-status"), client: Self.alice) == .deny)
            #expect(acl.check(.publish("dev-anon/-status"), client: Self.anonymous) == .deny)  // no %u
        }

        @Test("a placeholder value that would change the filter's shape never matches", arguments: [
            ("users/%u/#", "a/b", "users/a/b/x"),
            ("users/%u/#", "+", "users/+/x"),
            ("users/%u/#", "#", "users/#"),
            ("users/%u/#", "", "users//x"),
            ("%u/#", "$SYS", "$SYS/x"),
            ("%c/#", "$SYS", "$SYS/x"),
        ])
        func unsafeSubstitution(pattern: String, value: String, target: String) throws {
            let acl = try AccessControlList(contents: "allow all all \(pattern)", noMatch: .deny)
            let client = ClientIdentity(clientID: ClientID(stringLiteral: value.isEmpty ? "c" : value), username: value)
            let filter = try TopicFilter(validating: target)
            #expect(acl.check(.subscribe(filter), client: client) == .deny)
            if let topic = try? TopicName(validating: target) {
                #expect(acl.check(.publish(topic), client: client) == .deny)
            }
        }

        @Test func eqMatchesTheFilterTextLiterally() throws {
            let acl = try AccessControlList(
                contents: "allow all subscribe eq t/#\nallow all all eq u/%u/+", noMatch: .deny)
            #expect(acl.check(.subscribe("t/#"), client: Self.bob) == .allow)
            #expect(acl.check(.subscribe("$share/g/t/#"), client: Self.bob) == .allow)
            #expect(acl.check(.subscribe("t/a"), client: Self.bob) == .deny)
            #expect(acl.check(.subscribe("t/+"), client: Self.bob) == .deny)
            #expect(acl.check(.subscribe("u/bob/+"), client: Self.bob) == .allow)
            #expect(acl.check(.subscribe("u/bob/x"), client: Self.bob) == .deny)
            // No topic name equals a wildcard filter.
            #expect(acl.check(.publish("u/bob/x"), client: Self.bob) == .deny)
            let literal = try AccessControlList(contents: "deny all publish eq a/b", noMatch: .allow)
            #expect(literal.check(.publish("a/b"), client: Self.bob) == .deny)
            #expect(literal.check(.publish("a/b/c"), client: Self.bob) == .allow)
        }

        @Test func denyRulesApplyToSubscriptionsThatOverlapThem() throws {
            let acl = try AccessControlList(
                contents: "deny all subscribe secret/#\nallow all subscribe #", noMatch: .deny)
            #expect(acl.check(.subscribe("public/#"), client: Self.bob) == .allow)
            #expect(acl.check(.subscribe("+/#"), client: Self.bob) == .deny)  // would receive secret/...
            #expect(acl.check(.subscribe("+/keys"), client: Self.bob) == .deny)
            #expect(acl.check(.subscribe("#"), client: Self.bob) == .deny)
            #expect(acl.check(.subscribe("secret"), client: Self.bob) == .deny)  // secret/# matches the parent
        }

        @Test func wildcardRulesNeverGrantButDoDenyDollarTopics() throws {
            let grant = try AccessControlList(contents: "allow all all #\nallow all all +/#", noMatch: .deny)
            #expect(grant.check(.publish("$SYS/x"), client: Self.admin) == .deny)
            #expect(grant.check(.subscribe("$SYS/#"), client: Self.admin) == .deny)
            #expect(grant.check(.publish("a/b"), client: Self.admin) == .allow)
            let explicit = try AccessControlList(contents: "allow user:admin subscribe $SYS/#", noMatch: .deny)
            #expect(explicit.check(.subscribe("$SYS/broker/+"), client: Self.admin) == .allow)

            let deny = try AccessControlList(contents: "deny all all #", noMatch: .allow)
            #expect(deny.check(.publish("$SYS/x"), client: Self.admin) == .deny)
            #expect(deny.check(.subscribe("$SYS/#"), client: Self.admin) == .deny)
            let denyPlus = try AccessControlList(contents: "deny all publish +/x", noMatch: .allow)
            #expect(denyPlus.check(.publish("$SYS/x"), client: Self.admin) == .deny)
        }
    }
}
