import Distributed
import NIOCore

extension ClusterSystem {
    /// Carries out one inbound call (from a peer, or from this node for a key it owns): finds or activates the
    /// recipient, checks the target and type names against the allow-lists, then runs it in the FIFO inbox of
    /// (caller, recipient). `reply` is called exactly once, unless the caller's deadline passed before the call
    /// could start (the caller has given up by then).
    func dispatch(
        _ call: CallEnvelope, from source: NodeName, reply answer: @escaping @Sendable (UInt64, CallOutcome) -> Void
    ) {
        // A one-way call (ID 0) gets no reply, not even an error.
        let oneWay = call.callID == CallEnvelope.oneWayID
        let reply: @Sendable (UInt64, CallOutcome) -> Void = { id, outcome in
            if !oneWay { answer(id, outcome) }
        }
        let recipient: any DistributedActor
        switch locate(call.recipient) {
        case .success(let actor): recipient = actor
        case .failure(let error): return reply(call.callID, .systemError(error))
        }
        guard validator.isAllowed(call.target, on: recipient) else {
            logger.warning(
                "call target rejected",
                metadata: ["cluster/peer": "\(source)", "cluster/actor": "\(call.recipient)", "cluster/target": "\(call.target.prefix(200))"])
            return reply(call.callID, .systemError(RemoteCallError(.targetRejected, "not a distributed function of the recipient")))
        }
        var substitutions: [TypeRegistry.Entry] = []
        for name in call.substitutions {
            guard let entry = types.entry(named: name) else {
                return reply(call.callID, .systemError(RemoteCallError(.targetRejected, "type \(name.prefix(200)) is not registered")))
            }
            substitutions.append(entry)
        }
        let resolved = substitutions
        let deadline = NIODeadline.now() + .milliseconds(Int64(call.timeoutMillis))
        let types = self.types
        let job: InboxTable.Job = {
            guard NIODeadline.now() < deadline else { return }
            var binaryDecoder = BinaryDecoder()
            binaryDecoder.userInfo[.actorSystemKey] = self
            var decoder = ClusterInvocationDecoder(
                substitutions: resolved, arguments: call.arguments, decoder: binaryDecoder)
            let handler = ClusterResultHandler(types: types) { outcome in reply(call.callID, outcome) }
            do {
                try await self.executeDistributedTarget(
                    on: recipient, target: RemoteCallTarget(call.target), invocationDecoder: &decoder, handler: handler)
            } catch let error as ExecuteDistributedTargetError {
                reply(call.callID, .systemError(RemoteCallError(.targetRejected, "\(error.errorCode)")))
            } catch {
                reply(call.callID, ClusterResultHandler.outcome(of: error, types: types))
            }
        }
        if recipient is any UnorderedCallRecipient {
            Task { await job() }
        } else {
            inboxes.submit(.init(source: source, recipient: call.recipient), job)
        }
    }

    private func locate(_ id: ClusterActorID) -> Result<any DistributedActor, RemoteCallError> {
        switch id.address {
        case .owned(let owner, _):
            guard owner == node else {
                return .failure(RemoteCallError(.actorNotFound, "\(id): this node is \(node)"))
            }
            guard let actor = registry.withLock({ $0.find(id) }) else {
                return .failure(RemoteCallError(.actorNotFound, "\(id)"))
            }
            return .success(actor)
        case .keyed(let key):
            guard let owner = owner(of: key) else { return .failure(RemoteCallError(.noOwner, "\(key)")) }
            guard owner == node.name else { return .failure(RemoteCallError(.moved, owner.rawValue)) }
            guard let actor = activate(key) else {
                return .failure(RemoteCallError(.actorNotFound, "\(key): no factory for kind \(key.kind)"))
            }
            return .success(actor)
        }
    }
}

/// A distributed actor whose calls from another node may run concurrently instead of one after another: the system
/// then starts each inbound call at once, without the FIFO inbox of its caller. For actors whose callers order
/// what matters themselves (each waits for one call's answer before sending the next that must follow it).
public protocol UnorderedCallRecipient: DistributedActor {}
