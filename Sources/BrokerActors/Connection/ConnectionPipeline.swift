import ClusterTransport
import MQTTCore
import Synchronization

/// Carries one connection's broker requests out in the order they arrived. A single drainer task runs while
/// requests are queued and ends when the queue is empty, so an idle connection holds no task; order holds because
/// there is never more than one drainer. Consecutive PUBLISHes in a batch go to the broker as one call.
public final class ConnectionPipeline: Sendable {
    private struct Queue {
        var batches: [[BrokerRequest]] = []
        var draining = false
        var finished = false
        /// The drainer's state; taken out while a drainer runs, put back when it stops.
        var worker: Worker?
    }

    private let queue: Mutex<Queue>

    /// - Parameter respond: called with the broker's answers and the number of requests fully carried out (so the
    ///   handler can resume reading); the handler hops onto its event loop once per call. It is called once per
    ///   batch, and earlier only where order demands it (SUBACK goes out before the retained messages).
    public init(
        broker: Broker, connection: ConnectionActor,
        respond: @escaping @Sendable (_ responses: [BrokerResponse], _ processed: Int) -> Void
    ) {
        self.queue = Mutex(Queue(worker: Worker(broker: broker, connection: connection, respond: respond)))
    }

    public func submit(_ batch: [BrokerRequest]) {
        guard !batch.isEmpty else { return }
        let start: Worker? = queue.withLock { q in
            guard !q.finished else { return nil }
            q.batches.append(batch)
            guard !q.draining, let worker = q.worker else { return nil }
            q.draining = true
            q.worker = nil
            return worker
        }
        if let start { Task { await self.drain(start) } }
    }

    /// No more requests will come; those already queued are still carried out.
    public func finish() {
        queue.withLock { $0.finished = true }
    }

    private func drain(_ worker: Worker) async {
        var worker = worker
        while true {
            let batches: [[BrokerRequest]] = queue.withLock { q in
                let taken = q.batches
                q.batches.removeAll()
                if taken.isEmpty {
                    q.draining = false
                    q.worker = worker
                }
                return taken
            }
            guard !batches.isEmpty else { return }
            for batch in batches { await worker.run(batch) }
        }
    }

    private struct Worker {
        let broker: Broker
        let connection: ConnectionActor
        let respond: @Sendable ([BrokerResponse], Int) -> Void
        var clientID: ClientID?
        var session: SessionActor?
        var username: String?

        /// Answers not yet handed to the handler. They go out before the next step that could produce output to
        /// this client (a routed message, a redelivery), so answers and deliveries keep their order; a run of
        /// PUBLISHes therefore costs one hop to the event loop for all its acknowledgements.
        var answers: [BrokerResponse] = []

        mutating func run(_ batch: [BrokerRequest]) async {
            var index = batch.startIndex
            while index < batch.endIndex {
                if !answers.isEmpty {
                    respond(answers, 0)
                    answers.removeAll(keepingCapacity: true)
                }
                if case .publish = batch[index] {
                    var end = index
                    while end < batch.endIndex, case .publish = batch[end] { end += 1 }
                    await publish(batch[index..<end])
                    index = end
                } else {
                    await handle(batch[index])
                    index += 1
                }
            }
            respond(answers, batch.count)
            answers.removeAll(keepingCapacity: true)
        }

        private mutating func handle(_ request: BrokerRequest) async {
            switch request {
            case .connect(let connect):
                let outcome = await broker.connect(connect, connection: connection)
                if !outcome.reasonCode.isFailure {
                    clientID = connect.clientID
                    username = connect.username
                    session = outcome.session
                }
                answers.append(.connected(outcome))
            case .publish:
                break  // batched in run(_:)
            case .subscribe(let packet):
                guard let clientID, let session else { return }
                let result = await broker.subscribe(session, clientID: clientID, username: username, packet)
                answers.append(.subscribed(packet.packetID, result.reasonCodes))
                if !result.retained.isEmpty {
                    respond(answers, 0)  // SUBACK first, then the retained messages
                    answers.removeAll(keepingCapacity: true)
                    try? await session.deliver(result.retained)
                }
            case .unsubscribe(let packet):
                guard let session else { return }
                let codes = await broker.unsubscribe(session, packet)
                answers.append(.unsubscribed(packet.packetID, codes))
            // Acknowledgements need no answer: one-way to a session on another node, still in order.
            case .pubAck(let id):
                try? await ClusterSystem.oneWay { try await session?.pubAck(id) }
            case .pubRec(let id, let code):
                try? await ClusterSystem.oneWay { try await session?.pubRec(id, reasonCode: code) }
            case .pubComp(let id):
                try? await ClusterSystem.oneWay { try await session?.pubComp(id) }
            case .pubRel(let id):
                let found = (try? await session?.releaseQoS2(id)) ?? false
                answers.append(.released(id, found: found))
            case .disconnect(let publishWill, let expiry):
                guard let session else { return }
                await broker.disconnect(session, connection: connection, publishWill: publishWill, expiryOverride: expiry)
            case .connectionLost:
                guard let session else { return }
                await broker.disconnect(session, connection: connection, publishWill: true, expiryOverride: nil)
            }
        }

        private mutating func publish(_ requests: ArraySlice<BrokerRequest>) async {
            var toRoute: [Message] = []
            var acks: [(PacketID, MQTTQoS, Int?)] = []  // packet id, qos, index into toRoute (nil: duplicate QoS 2)
            for request in requests {
                guard case .publish(let message, let packetID) = request else { continue }
                if message.qos == .exactlyOnce, let id = packetID {
                    // Exactly once: a retransmitted QoS 2 PUBLISH whose PUBREL has not come is not routed again.
                    let isNew = (try? await session?.receiveQoS2(id)) ?? false
                    acks.append((id, .exactlyOnce, isNew ? toRoute.count : nil))
                    if isNew { toRoute.append(message) }
                } else {
                    if let id = packetID { acks.append((id, message.qos, toRoute.count)) }
                    toRoute.append(message)
                }
            }
            let codes = toRoute.isEmpty ? [] : await broker.publish(toRoute, username: username)
            guard !acks.isEmpty else { return }
            let results = acks.map { id, qos, position in (id, qos, position.map { codes[$0] } ?? .success) }
            // A PUBREC with a failure code ends the QoS 2 exchange (no PUBREL follows), so the identifier is free.
            for (id, qos, code) in results where qos == .exactlyOnce && code.isFailure {
                _ = try? await session?.releaseQoS2(id)
            }
            answers += results.map { .published($0.0, $0.1, $0.2) }
        }
    }
}
