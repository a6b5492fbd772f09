import NIOCore

extension ClusterTransportLayer {
    /// A frame from an authenticated peer.
    func received(
        _ frame: ClusterFrame, from peer: HandshakePeer, replyWriter: FrameWriter, context: ChannelHandlerContext,
        system: ClusterSystem
    ) {
        var frame = frame
        if frame.compressed {
            guard let plain = try? frame.decompressed(maxSize: settings.maxFrameSize) else {
                logger.warning("cluster frame undecodable", metadata: ["cluster/peer": "\(peer.node)"])
                context.close(promise: nil)
                return
            }
            frame = plain
        }
        switch frame.kind {
        case .call:
            guard let call = CallEnvelope.decode(&frame.payload) else {
                logger.warning("cluster call malformed", metadata: ["cluster/peer": "\(peer.node)"])
                return
            }
            system.dispatch(call, from: peer.node.name) { id, outcome in
                var payload = ByteBuffer()
                ReplyEnvelope.encode(callID: id, outcome, into: &payload)
                _ = replyWriter.enqueue(ClusterFrame(kind: .reply, payload: payload))
            }
        case .reply:
            guard let (id, outcome) = ReplyEnvelope.decode(&frame.payload) else {
                logger.warning("cluster reply malformed", metadata: ["cluster/peer": "\(peer.node)"])
                return
            }
            system.pending.complete(id, from: peer.node.name, with: .success(outcome))
        case .heartbeat:
            membership.heartbeat(from: peer.node)
        case .gossip:
            membership.heartbeat(from: peer.node)
            guard let members = try? BinaryDecoder().decode([Member].self, from: &frame.payload) else {
                logger.warning("cluster gossip malformed", metadata: ["cluster/peer": "\(peer.node)"])
                return
            }
            var events = membership.merge(members)
            if membership.local.status == .joining { events += membership.setLocalStatus(.up) }
            apply(events, system: system)
        default:
            logger.debug("cluster frame ignored", metadata: ["cluster/peer": "\(peer.node)", "cluster/kind": "\(frame.kind)"])
        }
    }

    func linkEstablished(_ peer: HandshakePeer, direction: PeerHandler.Direction, channel: any Channel, system: ClusterSystem) {
        membership.heartbeat(from: peer.node)
        switch direction {
        case .inbound:
            // Full mesh: a node that dialed us is dialed back.
            association(for: peer.listen).connect(system: system)
        case .outbound(let association):
            association.established(peer.node, channel: channel, backoffFloor: settings.reconnectBackoff.lowerBound)
            var payload = ByteBuffer()
            if (try? BinaryEncoder().encode(membership.gossip, into: &payload)) != nil {
                _ = association.writer.enqueue(ClusterFrame(kind: .gossip, payload: payload))
            }
        }
        logger.debug("cluster link up", metadata: ["cluster/peer": "\(peer.node)", "cluster/direction": "\(direction.name)"])
    }

    func linkClosed(peer: HandshakePeer?, direction: PeerHandler.Direction, system: ClusterSystem) {
        guard case .outbound(let association) = direction else { return }
        let lost = association.closed()
        if let lost {
            system.pending.failAll(peer: lost.name, RemoteCallError(.peerUnreachable, "link to \(lost) lost"))
            if let member = membership.snapshot.member(named: lost.name), member.id == lost, member.status == .leaving {
                apply(membership.markDown(lost), system: system)
            }
        }
        if state.withLock({ !$0.shuttingDown }) { association.scheduleRetry(system: system) }
    }

    func dialFailed(_ association: Association, error: any Error, system: ClusterSystem) {
        if let peer = association.peer {
            system.pending.failAll(peer: peer.name, RemoteCallError(.peerUnreachable, "\(peer): \(error)"))
        }
        association.writer.discardQueued()
        if state.withLock({ !$0.shuttingDown }) { association.scheduleRetry(system: system) }
    }

    /// Carries out membership changes: live members are dialed, calls to down ones fail now, and the new view is
    /// gossiped at once so that it spreads in one round trip rather than at the next gossip tick.
    func apply(_ events: [MembershipEvent], system: ClusterSystem) {
        guard !events.isEmpty else { return }
        for event in events {
            guard case .changed(let member, let previous) = event, member.id.name != node.name else { continue }
            logger.info(
                "member changed",
                metadata: ["cluster/member": "\(member.id)", "cluster/status": "\(member.status)", "cluster/previous": "\(previous.map(\.description) ?? "-")"])
            let association = association(for: member.endpoint)
            if member.status < .down {
                association.connect(system: system)
            } else {
                system.pending.failAll(peer: member.id.name, RemoteCallError(.peerUnreachable, "\(member.id) is \(member.status)"))
                association.writer.discardQueued()
            }
        }
        gossipToAll()
    }
}

extension PeerHandler.Direction {
    var name: String {
        switch self {
        case .inbound: "inbound"
        case .outbound: "outbound"
        }
    }
}
