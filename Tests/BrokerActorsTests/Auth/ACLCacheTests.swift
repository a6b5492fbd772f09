import BrokerActors
import MQTTCore
import Testing

extension AuthTests {
    @Suite("ACLCache")
    struct ACLCacheTests {
        static let alice = ClientIdentity(clientID: "a1", username: "alice")

        @Test func answersLikeTheListAndCountsHits() throws {
            let acl = try AccessControlList(contents: ACLExamples.file)
            var cache = ACLCache(client: Self.alice)
            let topics: [TopicName] = [
                "sensors/alice/t", "users/alice/x", "users/bob/x", "sensors/alice/t", "users/bob/x",
            ]
            for topic in topics {
                #expect(cache.checkPublish(topic, in: acl) == acl.check(.publish(topic), client: Self.alice))
            }
            #expect(cache.misses == 3)
            #expect(cache.hits == 2)
            #expect(cache.count == 3)
        }

        @Test func aReloadedListInvalidatesEntries() throws {
            let open = try AccessControlList(contents: "allow all publish a")
            var cache = ACLCache(client: Self.alice)
            #expect(cache.checkPublish("a", in: open) == .allow)
            #expect(cache.checkPublish("a", in: open) == .allow)
            #expect(cache.hits == 1)
            // Same text, new generation: the entry must not be reused.
            let closed = try AccessControlList(contents: "deny all publish a")
            #expect(cache.checkPublish("a", in: closed) == .deny)
            #expect(cache.misses == 2)
            #expect(cache.count == 1)
        }

        @Test func evictsTheOldestEntryAtCapacity() throws {
            let acl = try AccessControlList(contents: "allow all publish #")
            var cache = ACLCache(client: Self.alice, capacity: 2)
            _ = cache.checkPublish("t1", in: acl)
            _ = cache.checkPublish("t2", in: acl)
            _ = cache.checkPublish("t3", in: acl)  // evicts t1
            #expect(cache.count == 2)
            _ = cache.checkPublish("t2", in: acl)
            _ = cache.checkPublish("t3", in: acl)
            #expect(cache.hits == 2)
            _ = cache.checkPublish("t1", in: acl)  // a miss again, evicting t2
            #expect(cache.misses == 4)
            _ = cache.checkPublish("t3", in: acl)
            #expect(cache.hits == 3)
            #expect(cache.count == 2)
        }

        @Test func removeAllEmptiesTheCache() throws {
            let acl = try AccessControlList(contents: "allow all publish #")
            var cache = ACLCache(client: Self.alice)
            _ = cache.checkPublish("t1", in: acl)
            cache.removeAll()
            #expect(cache.count == 0)
            _ = cache.checkPublish("t1", in: acl)
            #expect(cache.misses == 2)
        }

        @Test func aListWithoutRulesIsNotCached() {
            var cache = ACLCache(client: Self.alice)
            #expect(cache.checkPublish("t", in: .allowAll) == .allow)
            #expect(cache.count == 0)
        }
    }
}
