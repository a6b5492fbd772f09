import MQTTCore
import NIOCore

extension MQTTClient {
    /// The client as seen from its own event loop: writes without a task or a promise per message, and flushes when
    /// the caller says so. Only valid on `eventLoop` (`onLoop()` checks).
    public struct LoopView {
        let handler: MQTTClientHandler

        public var delegate: (any MQTTClientDelegate)? {
            get { handler.delegate }
            nonmutating set { handler.delegate = newValue }
        }

        /// Whether the connection is open.
        public var isActive: Bool { handler.isActive }
        /// Whether the channel's outbound buffer is below its high water mark.
        public var isWritable: Bool { handler.isWritable }
        /// QoS 1 and 2 PUBLISHes sent and not yet completed.
        public var outstandingPublishes: Int { handler.outstandingPublishes }
        /// The server's Receive Maximum: at most this many QoS 1 and 2 PUBLISHes are outstanding; more are queued.
        public var sendQuota: Int { handler.sendQuota }

        /// Encodes a PUBLISH into the pending buffer without flushing. QoS 1 and 2 get a packet identifier and
        /// complete through `MQTTClientDelegate.mqttClient(didComplete:)`; beyond `sendQuota` they are queued.
        public func write(_ publish: MQTTPacket.Publish) {
            handler.publish(publish, waiter: .delegate)
        }

        /// Writes everything pending to the socket.
        public func flush() {
            handler.flush()
        }
    }

    /// The loop view of this client. Must be called on `eventLoop`.
    public func onLoop() -> LoopView {
        LoopView(handler: handler.value)
    }
}
