import MQTTCore
import Testing

@testable import BrokerActors

extension Routing {
    @Suite struct SharedGroupOnlineTests {
        static let options = MQTTPacket.SubscriptionOptions(qos: .atLeastOnce)

        static func index(members: [ClientID]) -> SubscriptionIndex {
            var index = SubscriptionIndex()
            for member in members { index.subscribe(member, filter: "$share/g/t", options: options, identifier: nil) }
            return index
        }

        @Test func offlineMembersAreSkippedWhileAnyMemberIsOnline() {
            var index = Self.index(members: ["a", "b", "c"])
            let online: Set<ClientID> = ["a", "c"]
            let receivers = (0..<6).compactMap {
                _ in index.match("t", publisher: nil, isOnline: { online.contains($0) }).first?.clientID
            }
            #expect(receivers == ["a", "c", "a", "c", "a", "c"])
        }

        @Test func withNobodyOnlineTheTurnStillRotates() {
            var index = Self.index(members: ["a", "b"])
            let receivers = (0..<4).compactMap { _ in index.match("t", publisher: nil, isOnline: { _ in false }).first?.clientID }
            #expect(receivers == ["a", "b", "a", "b"])
        }

        @Test func aMemberComingOnlineGetsItsTurnsBack() {
            var index = Self.index(members: ["a", "b"])
            var online: Set<ClientID> = ["a"]
            let first = index.match("t", publisher: nil, isOnline: { online.contains($0) }).first?.clientID
            let second = index.match("t", publisher: nil, isOnline: { online.contains($0) }).first?.clientID
            online.insert("b")
            let third = index.match("t", publisher: nil, isOnline: { online.contains($0) }).first?.clientID
            let fourth = index.match("t", publisher: nil, isOnline: { online.contains($0) }).first?.clientID
            #expect([first, second, third, fourth] == ["a", "a", "b", "a"])
        }
    }
}
