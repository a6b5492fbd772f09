import MQTTCore

/// The session's timers and lifetime settings, which live beside `SessionState` in its actor.
public struct SessionTimers: Sendable, Hashable, Codable {
    /// When a delayed will is due (the client is offline).
    public var willDueAt: Timestamp?
    /// When the session expires (the client is offline).
    public var expiresAt: Timestamp?

    public init(willDueAt: Timestamp? = nil, expiresAt: Timestamp? = nil) {
        self.willDueAt = willDueAt
        self.expiresAt = expiresAt
    }
}

/// One change of a session, as its primary sends it to its replica. The replica replays it on its own copy of
/// `SessionState`, whose transitions are deterministic given the same inputs (the time is part of the event), so
/// both copies hold the same in-flight window, packet identifiers and queue.
public enum SessionEvent: Sendable, Hashable, Codable {
    case attached(receiveMaximum: Int, expiryInterval: UInt32, will: WillMessage?, now: Timestamp)
    /// The connection went away; the settings and timers after the will and expiry were worked out.
    case detached(expiryInterval: UInt32, will: WillMessage?, timers: SessionTimers)
    /// The will or the timers changed while offline (a will was published).
    case timers(will: WillMessage?, timers: SessionTimers)
    case delivered([SessionDelivery], now: Timestamp)
    case pubAck(PacketID, now: Timestamp)
    case pubRec(PacketID, MQTTReasonCode, now: Timestamp)
    case pubComp(PacketID, now: Timestamp)
    case receivedQoS2(PacketID)
    case releasedQoS2(PacketID)
    case subscribed([StoredSubscription])
    case unsubscribed([TopicFilter])
}

/// A session's whole state: what a new replica, or a new owner after a handover, starts from.
public struct SessionSnapshot: Sendable, Codable {
    public var state: SessionState
    public var timers: SessionTimers

    public init(state: SessionState, timers: SessionTimers) {
        self.state = state
        self.timers = timers
    }

    /// Replays one event (on a replica).
    public mutating func apply(_ event: SessionEvent) {
        switch event {
        case .attached(let receiveMaximum, let expiryInterval, let will, let now):
            state.expiryInterval = expiryInterval
            state.will = will
            timers = SessionTimers()
            _ = state.attach(receiveMaximum: receiveMaximum, now: now)
        case .detached(let expiryInterval, let will, let timers):
            state.detach()
            state.expiryInterval = expiryInterval
            state.will = will
            self.timers = timers
        case .timers(let will, let timers):
            state.will = will
            self.timers = timers
        case .delivered(let items, let now):
            _ = state.deliver(items, now: now)
        case .pubAck(let id, let now):
            _ = state.pubAck(id, now: now)
        case .pubRec(let id, let code, let now):
            _ = state.pubRec(id, reasonCode: code, now: now)
        case .pubComp(let id, let now):
            _ = state.pubComp(id, now: now)
        case .receivedQoS2(let id):
            _ = state.receiveQoS2(id)
        case .releasedQoS2(let id):
            _ = state.releaseQoS2(id)
        case .subscribed(let subscriptions):
            for sub in subscriptions { state.subscriptions[sub.filter.rawValue] = sub }
        case .unsubscribed(let filters):
            for filter in filters { state.subscriptions[filter.rawValue] = nil }
        }
    }
}
