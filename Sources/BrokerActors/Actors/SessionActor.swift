import ClusterTransport
import Distributed
import Logging
import MQTTCore

/// One client's session: a distributed shell around `SessionState`. It owns the session's timers (will delay and
/// session expiry), pushes output to whichever connection is attached (on this node or another), and sends every
/// change to its replica on another node as an event (see `SessionActor+Replication`).
public distributed actor SessionActor {
    public typealias ActorSystem = BrokerActorSystem

    var state: SessionState
    var connection: ConnectionActor?
    let services: any BrokerServices
    var timers = SessionTimers()
    private var timer: Task<Void, Never>?
    private var timerGeneration: UInt64 = 0
    var ended = false
    /// Replication: the node the updates go to, and the number of events made so far.
    var replica: NodeName?
    var sequence: UInt64 = 0
    /// Set once the session was handed to another node: what still arrives here is passed on.
    var movedTo: NodeName?
    /// Whether the data directory holds this session (a snapshot, then its events).
    var persisted = false
    /// Set while the session's snapshot is on its way to a new owner: every call that would change the state waits
    /// (a change made meanwhile would not be in the snapshot, and this copy is dropped after).
    var handingOver = false
    var handoverWaiters: [CheckedContinuation<Void, Never>] = []

    public init(state: SessionState, services: any BrokerServices, actorSystem: ActorSystem) {
        self.actorSystem = actorSystem
        self.state = state
        self.services = services
    }

    /// A session taken over from a snapshot (a promoted replica, or a handover from the previous owner).
    init(snapshot: SessionSnapshot, services: any BrokerServices, actorSystem: ActorSystem) {
        self.actorSystem = actorSystem
        self.state = snapshot.state
        self.timers = snapshot.timers
        self.services = services
    }

    /// Attaches a new connection. An existing connection is taken over: it gets DISCONNECT 0x8E [MQTT-3.1.4-3],
    /// and its will is published only if it has no delay (a delayed will is cancelled by the new connection).
    /// Returns what to resend after CONNACK, or nil when the session has already ended (the caller then makes a
    /// new one).
    public distributed func attach(
        connection newConnection: ConnectionActor, receiveMaximum: Int, expiryInterval: UInt32, will: WillMessage?
    ) async -> [SessionOutput]? {
        await untilHandedOver()
        guard !ended, movedTo == nil else { return nil }
        let now = services.clock.now()
        if let old = connection, old.id != newConnection.id {
            if let oldWill = state.will, oldWill.delayInterval == 0 {
                await services.publishWill(oldWill.messageToPublish(now: now))
            }
            try? await old.disconnect(reason: .sessionTakenOver)
        }
        // A new connection before the will delay has passed cancels the will [MQTT-3.1.3-9].
        timers = SessionTimers()
        cancelTimer()
        connection = newConnection
        services.sessions.setOnline(state.clientID, true)
        state.expiryInterval = expiryInterval
        state.will = will
        let outputs = state.attach(receiveMaximum: receiveMaximum, now: now)
        record(.attached(receiveMaximum: receiveMaximum, expiryInterval: expiryInterval, will: will, now: now))
        return outputs
    }

    /// The connection went away. `publishWill` is false after a normal DISCONNECT (the will is deleted
    /// [MQTT-3.1.2-8]); `expiryOverride` is the Session Expiry Interval sent in DISCONNECT.
    public distributed func detach(connection gone: ConnectionActor, publishWill: Bool, expiryOverride: UInt32?) async {
        await untilHandedOver()
        guard connection?.id == gone.id else { return }  // an old connection after a takeover
        await connectionEnded(publishWill: publishWill, expiryOverride: expiryOverride)
    }

    /// The attached connection is gone (detached, or its node is down): the will and expiry take their course.
    func connectionEnded(publishWill: Bool, expiryOverride: UInt32?) async {
        connection = nil
        services.sessions.setOnline(state.clientID, false)
        state.detach()
        if let expiryOverride { state.expiryInterval = expiryOverride }
        let now = services.clock.now()
        if !publishWill { state.will = nil }
        let expiry = state.expiryInterval
        var dueWill: WillMessage?
        if let will = state.will {
            let delay = min(will.delayInterval, expiry)
            if delay == 0 {
                state.will = nil
                dueWill = will
            } else {
                timers.willDueAt = now.adding(seconds: delay)
            }
        }
        if expiry != 0, expiry != .max { timers.expiresAt = now.adding(seconds: expiry) }
        record(.detached(expiryInterval: state.expiryInterval, will: state.will, timers: timers))
        if let dueWill { await services.publishWill(dueWill.messageToPublish(now: now)) }
        if expiry == 0 {
            await end()
        } else {
            scheduleTimer(now: now)
        }
    }

    /// Messages routed to this session. Returns once the replica holds those of QoS 1 and 2.
    public distributed func deliver(_ items: [SessionDelivery]) async {
        await untilHandedOver()
        if let movedTo {
            await services.passOn(items, to: movedTo, clientID: state.clientID)
            return
        }
        guard !ended else { return }
        let now = services.clock.now()
        // QoS 0 to a connected client goes straight out and changes nothing the replica holds.
        let changesState = !state.isConnected
            || items.contains { $0.message.qos != .atMostOnce && $0.delivery.qos != .atMostOnce }
        let droppedBefore = state.queue.dropped
        let outputs = state.deliver(items, now: now)
        if state.queue.dropped > droppedBefore {
            services.metrics.messagesDropped.add(state.queue.dropped - droppedBefore, ordering: .relaxed)
        }
        let ticket = changesState ? record(.delivered(items, now: now)) : nil
        await push(outputs)
        if let ticket, items.contains(where: { $0.message.qos != .atMostOnce && $0.delivery.qos != .atMostOnce }) {
            _ = await services.awaitReplicated(ticket)
        }
    }

    public distributed func pubAck(_ id: PacketID) async {
        await untilHandedOver()
        guard movedTo == nil else { return }
        let now = services.clock.now()
        let outputs = state.pubAck(id, now: now)
        record(.pubAck(id, now: now))
        await push(outputs)
    }

    public distributed func pubRec(_ id: PacketID, reasonCode: MQTTReasonCode) async {
        await untilHandedOver()
        guard movedTo == nil else { return }
        let now = services.clock.now()
        let outputs = state.pubRec(id, reasonCode: reasonCode, now: now)
        record(.pubRec(id, reasonCode, now: now))
        await push(outputs)
    }

    public distributed func pubComp(_ id: PacketID) async {
        await untilHandedOver()
        guard movedTo == nil else { return }
        let now = services.clock.now()
        let outputs = state.pubComp(id, now: now)
        record(.pubComp(id, now: now))
        await push(outputs)
    }

    /// An incoming QoS 2 PUBLISH; true when it is new. Returns once the replica knows it (exactly once holds
    /// across a failover).
    public distributed func receiveQoS2(_ id: PacketID) async -> Bool {
        await untilHandedOver()
        let isNew = state.receiveQoS2(id)
        if isNew, let ticket = record(.receivedQoS2(id)) { _ = await services.awaitReplicated(ticket) }
        return isNew
    }

    public distributed func releaseQoS2(_ id: PacketID) async -> Bool {
        await untilHandedOver()
        let found = state.releaseQoS2(id)
        if found { record(.releasedQoS2(id)) }
        return found
    }

    /// Adds (or replaces) subscriptions and indexes them on this node; returns, per subscription, whether it is
    /// new (Retain Handling 1 needs that). Returns once the routes are known cluster-wide.
    public distributed func subscribe(_ subscriptions: [StoredSubscription]) async -> [Bool] {
        await untilHandedOver()
        guard !ended, movedTo == nil else { return subscriptions.map { _ in false } }
        for sub in subscriptions { state.subscriptions[sub.filter.rawValue] = sub }
        let ticket = record(.subscribed(subscriptions))
        let isNew = await services.indexSubscriptions(state.clientID, subscriptions)
        if let ticket { _ = await services.awaitReplicated(ticket) }
        return isNew
    }

    /// Removes subscriptions; returns which of them existed.
    public distributed func unsubscribe(_ filters: [TopicFilter]) async -> [Bool] {
        await untilHandedOver()
        guard movedTo == nil else { return filters.map { _ in false } }
        let existed = filters.map { state.subscriptions.removeValue(forKey: $0.rawValue) != nil }
        let removed = zip(filters, existed).filter(\.1).map(\.0)
        if !removed.isEmpty {
            record(.unsubscribed(removed))
            await services.unindexSubscriptions(state.clientID, removed)
        }
        return existed
    }

    /// Whether the session outlives its connection (Session Expiry Interval above 0; clean session 0 in v3).
    public distributed func isPersistent() -> Bool { !ended && movedTo == nil && state.expiryInterval > 0 }

    /// Ends the session now (a clean-start CONNECT replaced it): the old connection is told 0x8E, and a pending
    /// will is published because the session ends [MQTT-3.1.2-8].
    public distributed func discard() async {
        await untilHandedOver()
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

    // MARK: Internals

    /// Writes to the client's connection, here or on another node: one-way, in order, without waiting for the
    /// connection's node to answer.
    func push(_ outputs: [SessionOutput]) async {
        guard !outputs.isEmpty, let connection else { return }
        try? await ClusterSystem.oneWay { try await connection.deliver(outputs) }
    }

    func end() async {
        guard !ended else { return }
        ended = true
        cancelTimer()
        let subs = Array(state.subscriptions.values)
        state.subscriptions.removeAll()
        recordEnd()
        await services.sessionEnded(self, clientID: state.clientID, subscriptions: subs)
    }

    func cancelTimer() {
        timer?.cancel()
        timer = nil
        timerGeneration &+= 1
    }

    func scheduleTimer(now: Timestamp) {
        cancelTimer()
        let next = [timers.willDueAt, timers.expiresAt].compactMap { $0 }.min()
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
        guard generation == timerGeneration, connection == nil, movedTo == nil else { return }
        let now = services.clock.now()
        if let due = timers.willDueAt, due <= now, let will = state.will {
            timers.willDueAt = nil
            state.will = nil
            record(.timers(will: nil, timers: timers))
            await services.publishWill(will.messageToPublish(now: now))
        }
        if let due = timers.expiresAt, due <= now {
            timers.expiresAt = nil
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
