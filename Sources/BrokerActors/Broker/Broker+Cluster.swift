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
        guard member.id.name != actorSystem.node.name else { return }
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
        case .up where member.role == .broker:
            failovers.reset(member.id.name)
            sessions.forgetAdopted(from: member.id.name.rawValue)
            await announcer.peerUp(member.id)
            if previous != .up { await requestRoutes(from: member) }
            await rebalanceSessions(down: nil)
            await rebalanceRetained()
        case .down, .removed:
            await announcer.peerGone(member.id.name)
            routes.drop(node: member.id.name)
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

    /// Asks a broker that (re)appeared for all its routes: this node dropped them when it saw it down, and it may
    /// never have noticed (a stall, a partition it was on the other side of).
    private func requestRoutes(from member: Member) async {
        guard let id = actorSystem.wellKnownID(path: RouterActor.path, on: member.id.name), id.node == member.id,
            let router = try? RouterActor.resolve(id: id, using: actorSystem)
        else { return }
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

    var count: Int { entries.withLock { $0.count } }
}
