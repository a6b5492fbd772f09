import ClusterTransport
import Distributed
import MQTTCore

/// The node's end of cluster routing, at the well-known path `/routes`: other nodes send it the changes of their
/// filters, and the messages that match subscribers here. A forwarded batch is answered once every matching local
/// session has accepted its messages, so forwarding is acknowledged end to end.
///
/// Its calls run concurrently (`UnorderedCallRecipient`): a forward waits for sessions and their replicas, and in a
/// FIFO inbox every publisher of the calling node would wait behind it. Order needs no inbox here: a publisher sends
/// its next batch only after the answer to the previous one, and `RouteAnnouncer` sends one change set at a time.
public distributed actor RouterActor: UnorderedCallRecipient {
    public typealias ActorSystem = BrokerActorSystem

    static let path = ActorPath("/routes")!

    private let routes: ClusterRoutes
    private let shards: ShardRouter
    private let failovers: FailoverLog
    private let announcer: RouteAnnouncer

    init(
        routes: ClusterRoutes, shards: ShardRouter, failovers: FailoverLog, announcer: RouteAnnouncer,
        actorSystem: ActorSystem
    ) {
        self.actorSystem = actorSystem
        self.routes = routes
        self.shards = shards
        self.failovers = failovers
        self.announcer = announcer
    }

    /// `node` has no routes of this node (it saw this node down, or restarted): this node sends it all of them.
    public distributed func requestSynchronisation(from node: NodeID) async {
        await announcer.resync(node)
    }

    /// Changes of `node`'s filters after its version `base`; false asks for a full synchronisation.
    public distributed func apply(from node: NodeID, base: UInt64, changes: [RouteChange]) -> Bool {
        routes.apply(from: node, base: base, changes: changes)
    }

    /// All of `node`'s filters at `version`, with the member counts of its shared ones.
    public distributed func synchronise(from node: NodeID, version: UInt64, filters: [String], members: [String: Int]) {
        routes.synchronise(from: node, version: version, filters: filters, members: members)
    }

    /// Messages published on another node; returns, per message, how many local sessions accepted it.
    public distributed func forward(_ items: [RoutedMessage]) async -> [Int] {
        await shards.route(items)
    }

    /// Returns once this node has promoted its replicas of `lost`'s sessions (and announced their routes), or
    /// false after 10 s.
    public distributed func awaitFailover(of lost: NodeName) async -> Bool {
        await failovers.wait(for: lost, within: .seconds(10))
    }

    /// Messages whose forwarding to `lost` failed (it went down): once this node has promoted its replicas of
    /// `lost`'s sessions, they are delivered to those sessions only. Returns, per message, the sessions reached.
    public distributed func forwardAfterFailover(_ items: [RoutedMessage], lost: NodeName) async -> [Int] {
        guard await failovers.wait(for: lost, within: .seconds(5)) else { return items.map { _ in 0 } }
        return await shards.route(items.map { item in
            var item = item
            item.onlyAdoptedFrom = lost.rawValue
            return item
        })
    }
}
