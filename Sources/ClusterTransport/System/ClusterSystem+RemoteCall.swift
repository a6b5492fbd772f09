import Distributed
import NIOCore

extension ClusterSystem {
    /// A deadline for the remote calls made inside `body`, instead of `settings.callTimeout`.
    public static func withCallTimeout<T>(_ timeout: Duration, _ body: () async throws -> T) async rethrows -> T {
        try await $callTimeout.withValue(timeout, operation: body)
    }

    @TaskLocal static var callTimeout: Duration?

    /// Makes the `Void` distributed calls inside `body` one-way: each is sent (in order, since the caller waits
    /// until its frame is queued) and returns at once; the callee runs it and sends no reply, so the caller never
    /// learns whether it ran. For pushes where order matters and an answer does not (a session writing to its
    /// client's connection). A call that returns a value ignores this. Fails at once only when the peer is not
    /// reachable at all.
    public static func oneWay<T>(_ body: () async throws -> T) async rethrows -> T {
        try await $isOneWay.withValue(true, operation: body)
    }

    @TaskLocal static var isOneWay = false

    public func remoteCall<Act, Err, Res>(
        on actor: Act, target: RemoteCallTarget, invocation: inout ClusterInvocationEncoder, throwing: Err.Type,
        returning: Res.Type
    ) async throws -> Res where Act: DistributedActor, Act.ID == ClusterActorID, Err: Error, Res: Codable {
        switch try await call(actor.id, target: target.identifier, invocation) {
        case .value(var buffer):
            var decoder = BinaryDecoder()
            decoder.userInfo[.actorSystemKey] = self
            do {
                return try decoder.decode(Res.self, from: &buffer)
            } catch {
                throw RemoteCallError(.serializationFailed, "result of type \(Res.self): \(error)")
            }
        case .void:
            throw RemoteCallError(.serializationFailed, "no value for a result of type \(Res.self)")
        case .error(let name, var buffer):
            throw decodeError(name, &buffer)
        case .systemError(let error):
            throw error
        }
    }

    public func remoteCallVoid<Act, Err>(
        on actor: Act, target: RemoteCallTarget, invocation: inout ClusterInvocationEncoder, throwing: Err.Type
    ) async throws where Act: DistributedActor, Act.ID == ClusterActorID, Err: Error {
        if Self.isOneWay { return try send(actor.id, target: target.identifier, invocation) }
        switch try await call(actor.id, target: target.identifier, invocation) {
        case .void, .value:
            return
        case .error(let name, var buffer):
            throw decodeError(name, &buffer)
        case .systemError(let error):
            throw error
        }
    }

    private func decodeError(_ name: String, _ buffer: inout ByteBuffer) -> any Error {
        guard let decode = types.entry(named: name)?.decodeError else {
            return RemoteCallError(.remoteThrew, name)
        }
        var decoder = BinaryDecoder()
        decoder.userInfo[.actorSystemKey] = self
        return (try? decode(&buffer, decoder)) ?? RemoteCallError(.serializationFailed, "error of type \(name)")
    }

    /// Sends one call to wherever its recipient lives now and waits for the outcome. A keyed call that reaches a
    /// node which no longer owns the key is re-routed to the owner it names (at most three times).
    /// `via` sends a keyed call to that node first (as if it had answered `moved`), for tests of re-routing.
    func call(
        _ id: ClusterActorID, target: String, _ invocation: ClusterInvocationEncoder, via: NodeName? = nil
    ) async throws -> CallOutcome {
        let timeout = Self.callTimeout ?? settings.callTimeout
        let deadline = NIODeadline.now() + timeout.timeAmount
        var redirect = via
        var redirects = 0
        while true {
            let destination = try destination(of: id, redirect: redirect)
            let callID = pending.makeID()
            let remaining = max(0, (deadline - .now()).nanoseconds / 1_000_000)
            let envelope = CallEnvelope(
                callID: callID, timeoutMillis: UInt32(clamping: remaining), recipient: id, target: target,
                substitutions: invocation.substitutions, arguments: invocation.arguments)
            let outcome = try await pending.wait(for: callID, peer: destination, deadline: deadline) {
                if destination == node.name {
                    dispatch(envelope, from: node.name) { [pending] id, outcome in pending.complete(id, with: .success(outcome)) }
                } else {
                    var payload = ByteBuffer()
                    envelope.encode(into: &payload)
                    try transport.send(ClusterFrame(kind: .call, payload: payload), to: destination, incarnation: id.node)
                }
            }
            guard case .systemError(let error) = outcome, error.code == .moved, redirects < Self.maxRedirects else {
                return outcome
            }
            redirects += 1
            reroutes.add(1, ordering: .relaxed)
            redirect = NodeName(error.detail)
            logger.debug("call re-routed", metadata: ["cluster/actor": "\(id)", "cluster/owner": "\(error.detail)"])
            if let redirect, transport.membership.isUpBroker(redirect) { continue }
            // The views differ: the owner the callee names is not up in ours yet. Wait for our view to change
            // (or a short while), then place the call again.
            await awaitViewChange(after: transport.membership.snapshot.epoch, atMost: .milliseconds(100 << min(redirects, 4)))
            redirect = nil
        }
    }

    static let maxRedirects = 6

    /// Sends a one-way call (no reply) to the node where `id` lives now.
    private func send(_ id: ClusterActorID, target: String, _ invocation: ClusterInvocationEncoder) throws {
        let destination = try destination(of: id, redirect: nil)
        let timeout = Self.callTimeout ?? settings.callTimeout
        let envelope = CallEnvelope(
            callID: CallEnvelope.oneWayID, timeoutMillis: UInt32(clamping: timeout.timeAmount.nanoseconds / 1_000_000),
            recipient: id, target: target, substitutions: invocation.substitutions, arguments: invocation.arguments)
        if destination == node.name {
            dispatch(envelope, from: node.name) { _, _ in }
        } else {
            var payload = ByteBuffer()
            envelope.encode(into: &payload)
            try transport.send(ClusterFrame(kind: .call, payload: payload), to: destination, incarnation: id.node)
        }
    }

    /// Returns when the membership epoch passes `epoch`, or after `limit`.
    private func awaitViewChange(after epoch: UInt64, atMost limit: Duration) async {
        _ = try? await awaitMembership(within: limit) { $0.epoch > epoch }
    }

    /// The node to send a call for `id` to, or the error that makes the call fail at once.
    private func destination(of id: ClusterActorID, redirect: NodeName?) throws -> NodeName {
        switch id.address {
        case .owned(let owner, _):
            if owner.name == node.name {  // a local actor that `resolve` did not find, or an old incarnation
                throw RemoteCallError(.actorNotFound, "\(id)")
            }
            return owner.name  // `send` checks that this incarnation is a live member
        case .keyed(let key):
            if let redirect, transport.membership.isUpBroker(redirect) { return redirect }
            guard let owner = owner(of: key) else { throw RemoteCallError(.noOwner, "\(key)") }
            return owner
        }
    }
}
