import Distributed
import MQTTCore
import NIOCore

/// The IO end of one client connection, as a session sees it. Implemented by the channel handler; every call
/// happens on the channel's event loop.
public protocol ConnectionOutlet: AnyObject {
    /// Writes session output (PUBLISH, PUBREL) to the client.
    func deliver(_ outputs: [SessionOutput])
    /// Disconnects the client because the server decided so (session taken over, server shutting down).
    func serverDisconnect(_ reason: MQTTReasonCode)
}

/// A connection as a distributed actor, so that a session (possibly on another node, later) can push to it.
/// Each call enqueues onto the channel's event loop and returns; `EventLoop.execute` is FIFO, so the order of calls
/// from one session is the order of writes.
///
/// Distributed actors cannot read stored properties from `unownedExecutor`, so this actor is not pinned to the
/// event loop; it costs one hop per batch, not per message.
public distributed actor ConnectionActor {
    public typealias ActorSystem = BrokerActorSystem

    private let outlet: NIOLoopBound<any ConnectionOutlet>

    public init(outlet: NIOLoopBound<any ConnectionOutlet>, actorSystem: ActorSystem) {
        self.actorSystem = actorSystem
        self.outlet = outlet
    }

    public distributed func deliver(_ outputs: [SessionOutput]) {
        let outlet = self.outlet
        outlet.eventLoop.execute { outlet.value.deliver(outputs) }
    }

    public distributed func disconnect(reason: MQTTReasonCode) {
        let outlet = self.outlet
        outlet.eventLoop.execute { outlet.value.serverDisconnect(reason) }
    }
}
