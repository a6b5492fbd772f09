import ClusterTransport
import Logging
import Distributed
import MQTTCore
import Synchronization

extension Broker {
    /// Follows the membership until the cluster system shuts down (or the task is cancelled): brokers that come
    /// up get this node's routes; brokers that go down lose theirs here, and the connections on this node
    /// attached to their sessions are closed (DISCONNECT 0x9C for MQTT 5), so their clients reconnect to the new
    /// owner.
    public func followMembership() async {
        let events = actorSystem.membershipEvents()
        for member in actorSystem.membership.members where member.id.name != actorSystem.node.name {
            health.withLock { _ = $0.observe(member) }
            if member.status == .up, member.role == .broker {
                await announcer.peerUp(member.id)
            } else if member.status == .down {
                // Down before this node followed the membership: it holds no replica of its sessions.
                failovers.completed(member.id.name)
            }
        }
        for await event in events {
            guard !Task.isCancelled else { return }
            guard case .changed(let member, let previous) = event else { continue }
            await memberChanged(member, previous: previous)
        }
    }

    /// True when this node sees no more than half of the cluster's brokers up (see `ClusterHealth`).
    public var isPartitioned: Bool { health.withLock { $0.isPartitioned } }

    func memberChanged(_ member: Member, previous: MemberStatus?) async {
        // A gateway member hosts nothing: its comings and goings change no ownership, route or session here.
        guard member.id.name != actorSystem.node.name, member.role == .broker else { return }
        let (changed, view) = health.withLock { health in (health.observe(member), health) }
        if changed {
            let metadata: Logger.Metadata = ["cluster/up": "\(view.up.count)", "cluster/known": "\(view.known.count)"]
            if view.isPartitioned {
                logger.warning("partitioned: this node sees no majority of the cluster's brokers", metadata: metadata)
            } else {
                logger.notice("with the majority of the cluster's brokers again", metadata: metadata)
            }
        }
        switch member.status {
        case .up:
            failovers.reset(member.id.name)
            sessions.forgetAdopted(from: member.id.name.rawValue)
            await announcer.peerUp(member.id)
            if previous != .up { await requestRoutes(from: member) }
            await rebalanceSessions(down: nil)
            await rebalanceRetained()
        case .down, .removed:
            await announcer.peerGone(member.id.name)
            dropRoutesAfterFailover(of: member.id)
            await closeAttachments(to: member.id.name)
            await rebalanceSessions(down: member.id.name)
            await rebalanceRetained()
        case .leaving:
            await closeAttachments(to: member.id.name)
            await rebalanceSessions(down: nil)
        default:
            break
        }
    }

    /// Keeps a dead broker's routes until every up broker has promoted its replicas of the dead broker's sessions
    /// (whose routes are then announced everywhere). Until then a publish that matches them fails to reach the dead
    /// node and is redelivered to the promoted sessions (`redeliverAfterFailover`); dropping them at once would
    /// lose the messages published in between. Gives up waiting after 10 s. A broker back meanwhile keeps its new
    /// routes.
    private func dropRoutesAfterFailover(of dead: NodeID) {
        let nodes = actorSystem.membership.upBrokers.map(\.id.name)
        Task {
            await withTaskGroup(of: Void.self) { group in
                for node in nodes {
                    group.addTask {
                        if node == self.actorSystem.node.name {
                            _ = await self.failovers.wait(for: dead.name, within: .seconds(10))
                        } else if let router = try? self.actorSystem.wellKnown(
                            RouterActor.self, path: RouterActor.path, on: node)
                        {
                            _ = try? await ClusterSystem.withCallTimeout(.seconds(11)) {
                                try await router.awaitFailover(of: dead.name)
                            }
                        }
                    }
                }
            }
            guard !actorSystem.membership.upBrokers.contains(where: { $0.id.name == dead.name }) else { return }
            routes.drop(node: dead.name)
        }
    }

    /// Asks a broker that (re)appeared for all its routes: this node dropped them when it saw it down, and it may
    /// never have noticed (a stall, a partition it was on the other side of).
    private func requestRoutes(from member: Member) async {
        guard let router = try? actorSystem.wellKnown(RouterActor.self, path: RouterActor.path, on: member.id) else {
            return
        }
        try? await ClusterSystem.oneWay { try await router.requestSynchronisation(from: actorSystem.node) }
    }

    private func closeAttachments(to owner: NodeName) async {
        let connections = remoteAttachments.removeAll(owner: owner)
        guard !connections.isEmpty else { return }
        logger.info("closing connections whose session owner left", metadata: ["cluster/owner": "\(owner)", "count": "\(connections.count)"])
        for connection in connections { try? await connection.disconnect(reason: .useAnotherServer) }
    }
}

/// The connections on this node attached to sessions on other nodes, by owner, so they can be closed when the
/// owner goes away.
final class RemoteAttachments: Sendable {
    private struct Entry {
        var connection: ConnectionActor
        var owner: NodeName
    }

    private let entries = Mutex<[ClusterActorID: Entry]>([:])

    func add(_ connection: ConnectionActor, session: SessionActor, owner: NodeName) {
        entries.withLock { $0[connection.id] = Entry(connection: connection, owner: owner) }
    }

    func remove(_ connection: ConnectionActor) {
        _ = entries.withLock { $0.removeValue(forKey: connection.id) }
    }

    func removeAll(owner: NodeName) -> [ConnectionActor] {
        entries.withLock { entries in
            let gone = entries.filter { $0.value.owner == owner }
            for key in gone.keys { entries[key] = nil }
            return gone.values.map(\.connection)
        }
    }

    /// Forgets and returns every connection (a draining node closes them all).
    func removeAll() -> [ConnectionActor] {
        entries.withLock { entries in
            defer { entries.removeAll() }
            return entries.values.map(\.connection)
        }
    }

    var count: Int { entries.withLock { $0.count } }
}
