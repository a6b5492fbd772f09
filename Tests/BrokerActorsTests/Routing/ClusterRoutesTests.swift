import ClusterTransport
import MQTTCore
import Testing

@testable import BrokerActors

extension Routing {
    @Suite("ClusterRoutes")
    struct ClusterRoutesTests {
        static let local = NodeName("local")!
        static let peerName = NodeName("peer")!
        static let peer = NodeID(name: peerName, incarnation: Incarnation(rawValue: 10))
        static let peerRestarted = NodeID(name: peerName, incarnation: Incarnation(rawValue: 11))
        static let other = NodeID(name: NodeName("other")!, incarnation: Incarnation(rawValue: 5))

        static let direct = RouteSelection(direct: true, groups: [])

        static func add(_ filter: String) -> RouteChange { RouteChange(filter: filter, added: true) }
        static func remove(_ filter: String) -> RouteChange { RouteChange(filter: filter, added: false) }

        static func routeStrings(_ routes: ClusterRoutes) -> [String] {
            routes.routes.map { "\($0.filter)@\($0.node)" }
        }

        // MARK: Local filters and the change log

        @Test("subscribeLocal / unsubscribeLocal return a version only on 0→1 and 1→0, one more per change")
        func localTransitions() throws {
            let routes = ClusterRoutes(local: Self.local)
            #expect(routes.version == 0)
            #expect(routes.subscribeLocal("a/b") == 1)
            #expect(routes.subscribeLocal("a/b") == nil)
            #expect(routes.subscribeLocal("c/#") == 2)
            #expect(routes.unsubscribeLocal("a/b") == nil)  // 2 → 1
            #expect(routes.version == 2)
            #expect(routes.unsubscribeLocal("a/b") == 3)  // 1 → 0
            #expect(routes.unsubscribeLocal("a/b") == nil)  // already gone
            #expect(routes.unsubscribeLocal("never/seen") == nil)
            #expect(routes.subscribeLocal("a/b") == 4)  // 0 → 1 again
            #expect(routes.version == 4)

            let snapshot = routes.localSnapshot()
            #expect(snapshot.filters == ["a/b", "c/#"])
            #expect(snapshot.version == 4)
            #expect(Self.routeStrings(routes) == ["a/b@local", "c/#@local"])
            #expect(routes.match("c/d") == [Self.local: Self.direct])
            #expect(routes.match("x") == [:])

            let all = try #require(routes.changes(after: 0))
            #expect(all.changes == [Self.add("a/b"), Self.add("c/#"), Self.remove("a/b"), Self.add("a/b")])
            #expect(all.upTo == 4)
            let tail = try #require(routes.changes(after: 2))
            #expect(tail.changes == [Self.remove("a/b"), Self.add("a/b")])
            #expect(tail.upTo == 4)
            let none = try #require(routes.changes(after: 4))
            #expect(none.changes.isEmpty)
            #expect(none.upTo == 4)
            #expect(routes.changes(after: 5) == nil)
        }

        @Test("after trimLog, versions before the trim point need a full sync")
        func trimLog() throws {
            let routes = ClusterRoutes(local: Self.local)
            for filter in ["a", "b", "c"] { _ = routes.subscribeLocal(TopicFilter(stringLiteral: filter)) }
            _ = routes.unsubscribeLocal("a")  // version 4

            routes.trimLog(upTo: 2)
            #expect(routes.changes(after: 0) == nil)
            #expect(routes.changes(after: 1) == nil)
            let fromTwo = try #require(routes.changes(after: 2))
            #expect(fromTwo.changes == [Self.add("c"), Self.remove("a")])
            #expect(fromTwo.upTo == 4)

            routes.trimLog(upTo: 1)  // behind the trim point: no effect
            #expect(try #require(routes.changes(after: 2)).changes.count == 2)

            #expect(routes.subscribeLocal("d") == 5)
            #expect(try #require(routes.changes(after: 2)).changes == [Self.add("c"), Self.remove("a"), Self.add("d")])

            routes.trimLog(upTo: 100)  // beyond the version: trims everything there is
            #expect(routes.changes(after: 4) == nil)
            let empty = try #require(routes.changes(after: 5))
            #expect(empty.changes.isEmpty)
            #expect(empty.upTo == 5)
            #expect(routes.subscribeLocal("e") == 6)
            #expect(try #require(routes.changes(after: 5)).changes == [Self.add("e")])

            // The snapshot is unaffected by trimming.
            let snapshot = routes.localSnapshot()
            #expect(snapshot.filters == ["b", "c", "d", "e"])
            #expect(snapshot.version == 6)
        }

        @Test("concurrent local subscribes get distinct consecutive versions")
        func concurrentSubscribes() async {
            let routes = ClusterRoutes(local: Self.local)
            let versions = await withTaskGroup(of: UInt64?.self) { group in
                for i in 0..<200 {
                    group.addTask { routes.subscribeLocal(TopicFilter(stringLiteral: "t/\(i % 100)")) }
                }
                var result: [UInt64] = []
                for await version in group { if let version { result.append(version) } }
                return result
            }
            #expect(versions.sorted() == Array(1...100))
            #expect(routes.version == 100)
            #expect(routes.localSnapshot().filters.count == 100)
        }

        // MARK: Other nodes

        @Test("apply from a node never synchronised returns false and changes nothing")
        func applyUnknown() {
            let routes = ClusterRoutes(local: Self.local)
            #expect(!routes.apply(from: Self.peer, base: 0, changes: [Self.add("a")]))
            #expect(routes.routes.isEmpty)
            #expect(!routes.hasRemoteRoutes)
            #expect(routes.match("a") == [:])
        }

        @Test("after synchronise, apply needs the right base; a gap or stale base returns false")
        func synchroniseThenApply() {
            let routes = ClusterRoutes(local: Self.local)
            routes.synchronise(from: Self.peer, version: 5, filters: ["a/+", "b"])
            #expect(Self.routeStrings(routes) == ["a/+@peer", "b@peer"])

            #expect(!routes.apply(from: Self.peer, base: 4, changes: [Self.add("x")]))
            #expect(!routes.apply(from: Self.peer, base: 6, changes: [Self.add("x")]))
            #expect(Self.routeStrings(routes) == ["a/+@peer", "b@peer"])

            #expect(routes.apply(from: Self.peer, base: 5, changes: [Self.add("c"), Self.remove("b")]))
            #expect(Self.routeStrings(routes) == ["a/+@peer", "c@peer"])
            #expect(routes.apply(from: Self.peer, base: 7, changes: []))
            #expect(!routes.apply(from: Self.peer, base: 5, changes: [Self.add("z")]))  // already past 5
            #expect(routes.apply(from: Self.peer, base: 7, changes: [Self.remove("a/+")]))
            #expect(Self.routeStrings(routes) == ["c@peer"])
            #expect(routes.match("c") == [Self.peerName: Self.direct])

            // A full sync replaces everything and resets the base.
            routes.synchronise(from: Self.peer, version: 20, filters: ["d"])
            #expect(Self.routeStrings(routes) == ["d@peer"])
            #expect(!routes.apply(from: Self.peer, base: 8, changes: [Self.add("e")]))
            #expect(routes.apply(from: Self.peer, base: 20, changes: [Self.add("e")]))
            #expect(Self.routeStrings(routes) == ["d@peer", "e@peer"])
        }

        @Test("a new incarnation must synchronise again; an older incarnation's synchronise is ignored")
        func incarnations() {
            let routes = ClusterRoutes(local: Self.local)
            routes.synchronise(from: Self.peer, version: 3, filters: ["old/a"])

            #expect(!routes.apply(from: Self.peerRestarted, base: 3, changes: [Self.add("new/x")]))
            #expect(Self.routeStrings(routes) == ["old/a@peer"])

            routes.synchronise(from: Self.peerRestarted, version: 0, filters: ["new/a"])
            #expect(Self.routeStrings(routes) == ["new/a@peer"])
            #expect(routes.apply(from: Self.peerRestarted, base: 0, changes: [Self.add("new/b")]))

            // Late messages of the previous boot.
            routes.synchronise(from: Self.peer, version: 99, filters: ["old/z"])
            #expect(!routes.apply(from: Self.peer, base: 3, changes: [Self.add("old/y")]))
            #expect(!routes.apply(from: Self.peer, base: 99, changes: [Self.add("old/y")]))
            #expect(Self.routeStrings(routes) == ["new/a@peer", "new/b@peer"])
            // ...and the new boot's base was not disturbed.
            #expect(routes.apply(from: Self.peerRestarted, base: 1, changes: [Self.remove("new/a")]))
            #expect(Self.routeStrings(routes) == ["new/b@peer"])
        }

        @Test("invalid filter strings are skipped but still count towards the version")
        func invalidFilters() {
            let routes = ClusterRoutes(local: Self.local)
            routes.synchronise(from: Self.peer, version: 1, filters: ["ok", "", "a/#/b", "x+", "$share/g+/t", "$share/g"])
            #expect(Self.routeStrings(routes) == ["ok@peer"])
            let changes = [Self.add(""), Self.add("a/#/b"), Self.add("good/+"), Self.remove("bad#"), Self.add("a\u{0}b")]
            #expect(routes.apply(from: Self.peer, base: 1, changes: changes))
            #expect(Self.routeStrings(routes) == ["good/+@peer", "ok@peer"])
            #expect(routes.apply(from: Self.peer, base: 1 + UInt64(changes.count), changes: [Self.remove("ok")]))
            #expect(Self.routeStrings(routes) == ["good/+@peer"])
        }

        @Test("drop forgets a node's routes and its applied version")
        func dropNode() {
            let routes = ClusterRoutes(local: Self.local)
            _ = routes.subscribeLocal("a/+")
            routes.synchronise(from: Self.peer, version: 2, filters: ["a/b", "$share/g/a/b"])
            routes.synchronise(from: Self.other, version: 1, filters: ["#"])
            #expect(routes.match("a/b")[Self.peerName] == RouteSelection(
                direct: true, groups: [SharedGroupKey(group: "g", filter: "a/b")]))

            routes.drop(node: Self.peerName)
            #expect(Self.routeStrings(routes) == ["#@other", "a/+@local"])
            #expect(routes.match("a/b") == [Self.local: Self.direct, Self.other.name: Self.direct])
            #expect(!routes.apply(from: Self.peer, base: 2, changes: [Self.add("z")]))
            #expect(Self.routeStrings(routes) == ["#@other", "a/+@local"])

            routes.drop(node: Self.local)  // the local node's routes are not the cluster's to drop
            #expect(Self.routeStrings(routes) == ["#@other", "a/+@local"])
        }

        @Test("the local node's own announcements are ignored by apply and synchronise")
        func ownAnnouncements() {
            let routes = ClusterRoutes(local: Self.local)
            _ = routes.subscribeLocal("mine")
            let me = NodeID(name: Self.local, incarnation: Incarnation(rawValue: 1))
            routes.synchronise(from: me, version: 9, filters: ["echo"])
            #expect(routes.apply(from: me, base: 123, changes: [Self.add("echo2"), Self.remove("mine")]))
            #expect(Self.routeStrings(routes) == ["mine@local"])
            #expect(routes.localSnapshot().filters == ["mine"])
            #expect(routes.version == 1)
        }

        @Test("hasRemoteRoutes is false with only local routes and true once another node has some")
        func hasRemoteRoutes() {
            let routes = ClusterRoutes(local: Self.local)
            #expect(!routes.hasRemoteRoutes)
            _ = routes.subscribeLocal("a")
            _ = routes.subscribeLocal("b")
            #expect(!routes.hasRemoteRoutes)
            routes.synchronise(from: Self.peer, version: 0, filters: [])
            #expect(!routes.hasRemoteRoutes)
            #expect(routes.apply(from: Self.peer, base: 0, changes: [Self.add("x")]))
            #expect(routes.hasRemoteRoutes)
            #expect(routes.apply(from: Self.peer, base: 1, changes: [Self.remove("x")]))
            #expect(!routes.hasRemoteRoutes)
            routes.synchronise(from: Self.other, version: 0, filters: ["y"])
            #expect(routes.hasRemoteRoutes)
            _ = routes.unsubscribeLocal("a")
            _ = routes.unsubscribeLocal("b")
            #expect(routes.hasRemoteRoutes)
            routes.drop(node: Self.other.name)
            #expect(!routes.hasRemoteRoutes)
            #expect(routes.routes.isEmpty)
        }
    }
}
