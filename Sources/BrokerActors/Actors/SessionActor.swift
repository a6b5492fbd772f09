import Distributed
import Logging
import MQTTCore

/// One client's session: a distributed shell around `SessionState`. It owns the session's timers (will delay and
/// session expiry) and pushes output to whichever connection is attached.
public distributed actor SessionActor {
    public typealias ActorSystem = BrokerActorSystem

    private var state: SessionState
    private var connection: ConnectionActor?
    private let services: any BrokerServices
    private var willDueAt: Timestamp?
    private var expiresAt: Timestamp?
    private var timer: Task<Void, Never>?
    private var timerGeneration: UInt64 = 0
    private var ended = false

    public init(state: SessionState, services: any BrokerServices, actorSystem: ActorSystem) {
        self.actorSystem = actorSystem
        self.state = state
        self.services = services
    }

    /// Attaches a new connection. An existing connection is taken over: it gets DISCONNECT 0x8E [MQTT-3.1.4-3],
    /// and its will is published only if it has no delay (a delayed will is cancelled by the new connection).
    /// Returns what to resend after CONNACK, or nil when the session has already ended (the caller then makes a
    /// new one).
    public distributed func attach(
        connection newConnection: ConnectionActor, receiveMaximum: Int, expiryInterval: UInt32, will: WillMessage?
    ) async -> [SessionOutput]? {
        guard !ended else { return nil }
        let now = services.clock.now()
        if let old = connection, old.id != newConnection.id {
            if let oldWill = state.will, oldWill.delayInterval == 0 {
                await services.publishWill(oldWill.messageToPublish(now: now))
            }
            try? await old.disconnect(reason: .sessionTakenOver)
        }
        // A new connection before the will delay has passed cancels the will [MQTT-3.1.3-9].
        willDueAt = nil
        expiresAt = nil
        cancelTimer()
        connection = newConnection
        services.sessions.setOnline(state.clientID, true)
        state.expiryInterval = expiryInterval
        state.will = will
        return state.attach(receiveMaximum: receiveMaximum, now: now)
    }

    /// The connection went away. `publishWill` is false after a normal DISCONNECT (the will is deleted
    /// [MQTT-3.1.2-8]); `expiryOverride` is the Session Expiry Interval sent in DISCONNECT.
    public distributed func detach(connection gone: ConnectionActor, publishWill: Bool, expiryOverride: UInt32?) async {
        guard connection?.id == gone.id else { return }  // an old connection after a takeover
        connection = nil
        services.sessions.setOnline(state.clientID, false)
        state.detach()
        if let expiryOverride { state.expiryInterval = expiryOverride }
        let now = services.clock.now()
        if !publishWill { state.will = nil }
        let expiry = state.expiryInterval
        if let will = state.will {
            let delay = min(will.delayInterval, expiry)
            if delay == 0 {
                state.will = nil
                await services.publishWill(will.messageToPublish(now: now))
            } else {
                willDueAt = now.adding(seconds: delay)
            }
        }
        if expiry == 0 {
            await end()
        } else if expiry != .max {
            expiresAt = now.adding(seconds: expiry)
        }
        scheduleTimer(now: now)
    }

    /// Messages routed to this session.
    public distributed func deliver(_ items: [SessionDelivery]) async {
        guard !ended else { return }
        let droppedBefore = state.queue.dropped
        let outputs = state.deliver(items, now: services.clock.now())
        if state.queue.dropped > droppedBefore {
            services.metrics.messagesDropped.add(state.queue.dropped - droppedBefore, ordering: .relaxed)
        }
        await push(outputs)
    }

    public distributed func pubAck(_ id: PacketID) async {
        await push(state.pubAck(id, now: services.clock.now()))
    }

    public distributed func pubRec(_ id: PacketID, reasonCode: MQTTReasonCode) async {
        await push(state.pubRec(id, reasonCode: reasonCode, now: services.clock.now()))
    }

    public distributed func pubComp(_ id: PacketID) async {
        await push(state.pubComp(id, now: services.clock.now()))
    }

    public distributed func receiveQoS2(_ id: PacketID) -> Bool { state.receiveQoS2(id) }

    public distributed func releaseQoS2(_ id: PacketID) -> Bool { state.releaseQoS2(id) }

    /// Adds (or replaces) subscriptions and indexes them on this node; returns, per subscription, whether it is
    /// new (Retain Handling 1 needs that). Returns once the routes are known cluster-wide.
    public distributed func subscribe(_ subscriptions: [StoredSubscription]) async -> [Bool] {
        guard !ended else { return subscriptions.map { _ in false } }
        for sub in subscriptions { state.subscriptions[sub.filter.rawValue] = sub }
        return await services.indexSubscriptions(state.clientID, subscriptions)
    }

    /// Removes subscriptions; returns which of them existed.
    public distributed func unsubscribe(_ filters: [TopicFilter]) async -> [Bool] {
        let existed = filters.map { state.subscriptions.removeValue(forKey: $0.rawValue) != nil }
        let removed = zip(filters, existed).filter(\.1).map(\.0)
        if !removed.isEmpty { await services.unindexSubscriptions(state.clientID, removed) }
        return existed
    }

    /// Whether the session outlives its connection (Session Expiry Interval above 0; clean session 0 in v3).
    public distributed func isPersistent() -> Bool { !ended && state.expiryInterval > 0 }

    /// Ends the session now (a clean-start CONNECT replaced it): the old connection is told 0x8E, and a pending
    /// will is published because the session ends [MQTT-3.1.2-8].
    public distributed func discard() async {
        let now = services.clock.now()
        if let old = connection {
            connection = nil
            services.sessions.setOnline(state.clientID, false)
            try? await old.disconnect(reason: .sessionTakenOver)
        }
        if let will = state.will {
            state.will = nil
            await services.publishWill(will.messageToPublish(now: now))
        }
        await end()
    }

    // MARK: Private

    private func push(_ outputs: [SessionOutput]) async {
        guard !outputs.isEmpty, let connection else { return }
        try? await connection.deliver(outputs)
    }

    private func end() async {
        guard !ended else { return }
        ended = true
        cancelTimer()
        let subs = Array(state.subscriptions.values)
        state.subscriptions.removeAll()
        await services.sessionEnded(self, clientID: state.clientID, subscriptions: subs)
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
        timerGeneration &+= 1
    }

    private func scheduleTimer(now: Timestamp) {
        cancelTimer()
        let next = [willDueAt, expiresAt].compactMap { $0 }.min()
        guard let next, !ended else { return }
        let generation = timerGeneration
        let delay = max(0, next.milliseconds - now.milliseconds)
        timer = Task {
            try? await Task.sleep(for: .milliseconds(delay))
            guard !Task.isCancelled else { return }
            await self.timerFired(generation)
        }
    }

    private func timerFired(_ generation: UInt64) async {
        guard generation == timerGeneration, connection == nil else { return }
        let now = services.clock.now()
        if let due = willDueAt, due <= now, let will = state.will {
            willDueAt = nil
            state.will = nil
            await services.publishWill(will.messageToPublish(now: now))
        }
        if let due = expiresAt, due <= now {
            expiresAt = nil
            if let will = state.will {  // the session ends before the will delay: publish it now [MQTT-3.1.3-9]
                state.will = nil
                await services.publishWill(will.messageToPublish(now: now))
            }
            await end()
            return
        }
        scheduleTimer(now: now)
    }
}
