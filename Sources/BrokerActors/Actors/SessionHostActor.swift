import ClusterTransport
import Distributed
import MQTTCore

/// The node's session directory as other nodes see it, at the well-known path `/sessions`: a client connected to
/// another node attaches here to the session this node owns (by rendezvous hashing of `session/<clientID>`).
public distributed actor SessionHostActor: UnorderedCallRecipient {
    public typealias ActorSystem = BrokerActorSystem

    static let path = ActorPath("/sessions")!

    private let broker: Broker

    init(broker: Broker, actorSystem: ActorSystem) {
        self.actorSystem = actorSystem
        self.broker = broker
    }

    /// Finds, takes over or creates the client's session here and attaches the (remote) connection. Answers
    /// `useAnotherServer` when this node does not own the session in its view of the membership.
    /// The caller computed that this node owns the session; when this node's view disagrees, it is usually the
    /// one that lags (a peer it has not yet declared down), so it waits up to 2 s for its view to agree before
    /// answering `useAnotherServer`.
    public distributed func connect(_ request: ConnectRequest, connection: ConnectionActor) async -> ConnectOutcome {
        if !broker.ownsSession(of: request.clientID) {
            let broker = self.broker
            let clientID = request.clientID
            _ = try? await actorSystem.awaitMembership(within: .seconds(2)) { _ in broker.ownsSession(of: clientID) }
            guard broker.ownsSession(of: request.clientID) else { return ConnectOutcome(reasonCode: .useAnotherServer) }
        }
        return await broker.connectLocally(request, connection: connection)
    }

    /// Takes a session over from its previous owner (a handover after a membership change).
    /// `brokers` are the brokers up in the sender's view: the session's routes are announced to each of them before
    /// this returns (this node, just started, may not have met them all yet), so the sender can drop its copy.
    public distributed func adopt(_ snapshot: SessionSnapshot, announcingTo brokers: [NodeID]) async -> Bool {
        await broker.meet(brokers)
        return await broker.adoptLocally(snapshot, connectionLost: false)
    }

    /// Messages that reached the session's previous owner after it moved here.
    public distributed func deliver(_ items: [SessionDelivery], to clientID: ClientID) async {
        try? await broker.sessions.session(for: clientID)?.deliver(items)
    }
}
