import ClusterTransport
import Distributed
import MQTTCore

extension Broker {
    /// Routes messages from one publisher, in order. Returns a reason code per message: success, 0x10 when no
    /// subscriber matched, 0x87 when the policy refused it. Returns after every matching session, on any node, has
    /// accepted its copy: forwarding to other nodes is acknowledged.
    ///
    /// `username` is the publisher's, for the policy. Wills and `$SYS` pass `authorize: false`: a will is checked
    /// when CONNECT carries it.
    public func publish(_ messages: [Message], username: String? = nil, authorize: Bool = true) async
        -> [MQTTReasonCode]
    {
        var codes = [MQTTReasonCode](repeating: .success, count: messages.count)
        var accepted: [(position: Int, message: Message)] = []
        accepted.reserveCapacity(messages.count)
        for (position, message) in messages.enumerated() {
            if authorize, let publisher = message.publisher,
                message.topic.isSysTopic
                    || !policy.mayPublish(clientID: publisher, username: username, topic: message.topic)
            {
                codes[position] = .notAuthorized
                metrics.publishDenied.add(1, ordering: .relaxed)
                continue
            }
            if message.retain {
                await setRetained(message)
            }
            accepted.append((position, message))
        }
        let counts: [Int]
        if routes.hasRemoteRoutes {
            counts = await routeAcrossCluster(accepted.map(\.message))
        } else {
            counts = await shardRouter.route(accepted.map { RoutedMessage(message: $0.message) })
        }
        for (item, count) in zip(accepted, counts) where count == 0 {
            codes[item.position] = .noMatchingSubscribers
        }
        return codes
    }

    public func publishWill(_ message: Message) async {
        _ = await publish([message], authorize: false)
    }

    /// Matches each message against the cluster routes and sends it once to each node that needs it (this one
    /// included), a batch per node, all nodes in parallel. Returns, per message, the sessions it reached.
    private func routeAcrossCluster(_ messages: [Message]) async -> [Int] {
        var perNode: [NodeName: [(Int, RoutedMessage)]] = [:]
        for (position, message) in messages.enumerated() {
            for (node, selection) in routes.match(message.topic) {
                perNode[node, default: []].append((position, RoutedMessage(message: message, selection: selection)))
            }
        }
        var counts = [Int](repeating: 0, count: messages.count)
        let results = await withTaskGroup(of: [(Int, Int)].self) { group in
            for (node, items) in perNode {
                group.addTask {
                    guard let reached = await self.deliver(items.map(\.1), on: node) else {
                        // The node is unreachable: what it was to deliver at QoS 1 and 2 goes to the sessions
                        // promoted from its replicas, once it is declared down.
                        let durable = items.filter { $0.1.message.qos != .atMostOnce }
                        let redelivered = await self.redeliverAfterFailover(durable.map(\.1), lost: node)
                        return zip(durable.map(\.0), redelivered).map { ($0, $1) }
                    }
                    return zip(items.map(\.0), reached).map { ($0, $1) }
                }
            }
            var all: [(Int, Int)] = []
            for await part in group { all += part }
            return all
        }
        for (position, count) in results { counts[position] += count }
        return counts
    }

    /// Sends `items`, whose forwarding to `lost` failed, to every up broker once `lost` is down in this node's
    /// view; each delivers them to the sessions it promoted from `lost`'s replicas. Gives up (zero sessions) when
    /// `lost` is not declared down within 5 s.
    private func redeliverAfterFailover(_ items: [RoutedMessage], lost: NodeName) async -> [Int] {
        guard !items.isEmpty else { return [] }
        let down = try? await actorSystem.awaitMembership(within: .seconds(5)) { view in
            !view.upBrokers.contains { $0.id.name == lost }
        }
        guard down != nil else { return items.map { _ in 0 } }
        let nodes = actorSystem.membership.upBrokers.map(\.id.name)
        let perNode = await withTaskGroup(of: [Int].self) { group in
            for node in nodes {
                group.addTask {
                    guard let router = try? self.actorSystem.wellKnown(RouterActor.self, path: RouterActor.path, on: node),
                        let counts = try? await router.forwardAfterFailover(items, lost: lost)
                    else { return items.map { _ in 0 } }
                    return counts
                }
            }
            var all: [[Int]] = []
            for await part in group { all.append(part) }
            return all
        }
        metrics.messagesRedelivered.add(items.count, ordering: .relaxed)
        return items.indices.map { index in perNode.reduce(0) { $0 + ($1.indices.contains(index) ? $1[index] : 0) } }
    }

    /// Delivers through the topic shards of `node`: here directly, elsewhere through its `/routes` actor. Nil when
    /// the node could not be reached.
    private func deliver(_ items: [RoutedMessage], on node: NodeName) async -> [Int]? {
        if node == actorSystem.node.name { return await shardRouter.route(items) }
        do {
            let router = try actorSystem.wellKnown(RouterActor.self, path: RouterActor.path, on: node)
            metrics.messagesForwarded.add(items.count, ordering: .relaxed)
            // Awaited even for QoS 0: the answer paces the publisher to what the other node delivers (a one-way
            // forward let a fast QoS 0 publisher flood the other node, which then dropped most of it).
            return try await router.forward(items)
        } catch {
            metrics.forwardFailures.add(items.count, ordering: .relaxed)
            logger.warning("forwarding failed", metadata: ["cluster/peer": "\(node)", "error": "\(error)"])
            return nil
        }
    }
}
