import ClusterTransport
import MQTTCore
import NIOCore
import Testing

@testable import BrokerActors

/// Everything observable of a session copy, for comparing a replica (or a decoded snapshot) with its primary.
struct SessionObservation: Equatable {
    var clientID: ClientID
    var pending: [SessionDelivery]
    var inflightCount: Int
    var queueCount: Int
    var queueElements: [SessionDelivery]
    var queueDropped: Int
    var awaitingRelease: Set<PacketID>
    var subscriptions: [String: StoredSubscription]
    var isConnected: Bool
    var expiryInterval: UInt32
    var will: WillMessage?
    var receiveMaximum: Int
    var queueQoS0WhileOffline: Bool
    var timers: SessionTimers

    init(_ s: SessionState, timers: SessionTimers) {
        clientID = s.clientID
        pending = s.pendingDeliveries
        inflightCount = s.inflightCount
        queueCount = s.queue.count
        queueElements = Array(s.queue.elements)
        queueDropped = s.queue.dropped
        awaitingRelease = s.awaitingRelease
        subscriptions = s.subscriptions
        isConnected = s.isConnected
        expiryInterval = s.expiryInterval
        will = s.will
        receiveMaximum = s.receiveMaximum
        queueQoS0WhileOffline = s.queueQoS0WhileOffline
        self.timers = timers
    }

    init(_ snapshot: SessionSnapshot) { self.init(snapshot.state, timers: snapshot.timers) }

    /// The names (and values) of the fields that differ, for a readable failure.
    func differences(from other: SessionObservation) -> [String] {
        var found: [String] = []
        func check<T: Equatable>(_ name: String, _ path: KeyPath<SessionObservation, T>) {
            if self[keyPath: path] != other[keyPath: path] {
                found.append("\(name): \(self[keyPath: path]) != \(other[keyPath: path])")
            }
        }
        check("clientID", \.clientID)
        check("pendingDeliveries", \.pending)
        check("inflightCount", \.inflightCount)
        check("queue.count", \.queueCount)
        check("queue.elements", \.queueElements)
        check("queue.dropped", \.queueDropped)
        check("awaitingRelease", \.awaitingRelease)
        check("subscriptions", \.subscriptions)
        check("isConnected", \.isConnected)
        check("expiryInterval", \.expiryInterval)
        check("will", \.will)
        check("receiveMaximum", \.receiveMaximum)
        check("queueQoS0WhileOffline", \.queueQoS0WhileOffline)
        check("timers", \.timers)
        return found
    }
}

/// What a session copy does from here on: attach with `receiveMaximum` at `now` (the packets resent), deliver
/// `extra`, then acknowledge everything sent, round after round. Equal rounds mean equal in-flight windows, packet
/// identifiers (including the next one allocated), DUP flags and order.
func sessionProbe(_ state: SessionState, receiveMaximum: Int, now: Timestamp, extra: [SessionDelivery]) -> [[SessionOutput]] {
    var s = state
    var rounds = [s.attach(receiveMaximum: receiveMaximum, now: now), s.deliver(extra, now: now)]
    for _ in 0..<6 {
        var next: [SessionOutput] = []
        for output in rounds[rounds.count - 1] + rounds[rounds.count - 2] {
            switch output {
            case .publish(let p) where p.qos == .atLeastOnce: next += s.pubAck(p.packetID!, now: now)
            case .publish(let p) where p.qos == .exactlyOnce: next += s.pubRec(p.packetID!, reasonCode: .success, now: now)
            case .publish: break
            case .pubRel(let id): next += s.pubComp(id, now: now)
            }
        }
        rounds.append(next)
    }
    return rounds
}

/// A session's primary as `SessionActor` drives it: each operation changes the state exactly as the actor does
/// (same arguments, same `now`) and returns the events the actor records for it.
struct PrimarySession {
    var state: SessionState
    var timers = SessionTimers()
    /// Packet identifiers seen in outputs (some are acknowledged long ago: stale ones are fine to send again).
    var seenIDs: [PacketID] = []
    var incomingIDs: [PacketID] = []

    static let reasonCodes: [MQTTReasonCode] = [.success, .success, .noMatchingSubscribers, .unspecifiedError,
                                                 .notAuthorized, .packetIdentifierInUse]

    mutating func note(_ outputs: [SessionOutput]) {
        for output in outputs {
            switch output {
            case .publish(let p): if let id = p.packetID { seenIDs.append(id) }
            case .pubRel(let id): seenIDs.append(id)
            }
        }
        if seenIDs.count > 40 { seenIDs.removeFirst(seenIDs.count - 40) }
    }

    mutating func packetID(_ g: inout RoutingGenerator) -> PacketID {
        if !seenIDs.isEmpty, g.chance(0.85) { return g.pick(seenIDs) }
        return PacketID(rawValue: UInt16(g.int(1...60)))!
    }

    func randomMessage(_ g: inout RoutingGenerator, now: Timestamp) -> SessionDelivery {
        let expiresAt: Timestamp? = switch g.int(0...6) {
        case 0: now.adding(milliseconds: -Int64(g.int(0...500)))  // already expired (also exactly now)
        case 1: now.adding(milliseconds: Int64(g.int(1...2)))  // just not expired yet
        case 2, 3: now.adding(milliseconds: Int64(g.int(1...6_000)))  // expires while queued
        default: nil
        }
        let message = Message(
            topic: g.topic(), payload: ByteBuffer(string: "m\(g.int(0...999))"), qos: g.pick(MQTTQoS.allCases),
            retain: g.chance(0.3), publisher: g.chance(0.5) ? "pub" : nil, expiresAt: expiresAt)
        let delivery = Delivery(
            clientID: state.clientID, qos: g.pick(MQTTQoS.allCases),
            subscriptionIdentifiers: g.chance(0.3) ? [UInt32(g.int(1...9))] : [], retainAsPublished: g.chance(0.5))
        return SessionDelivery(message: message, delivery: delivery, isRetainedDelivery: g.chance(0.1))
    }

    func randomWill(_ g: inout RoutingGenerator) -> WillMessage? {
        guard g.chance(0.6) else { return nil }
        let message = Message(topic: g.topic(), payload: ByteBuffer(string: "will"), qos: g.pick(MQTTQoS.allCases))
        return WillMessage(message: message, delayInterval: g.pick([0, 0, 5, 120]), expiryInterval: g.pick([UInt32?.none, 30]))
    }

    /// One random operation at `now`; returns the recorded events.
    mutating func step(_ g: inout RoutingGenerator, now: Timestamp) -> [SessionEvent] {
        switch g.int(0...15) {
        case 0, 1:  // SessionActor.attach
            let receiveMaximum = g.int(1...5)
            let expiry: UInt32 = g.pick([1, 10, 3600, .max])
            let will = randomWill(&g)
            timers = SessionTimers()
            state.expiryInterval = expiry
            state.will = will
            note(state.attach(receiveMaximum: receiveMaximum, now: now))
            return [.attached(receiveMaximum: receiveMaximum, expiryInterval: expiry, will: will, now: now)]
        case 2:  // SessionActor.connectionEnded (only with a connection attached)
            guard state.isConnected else { return [] }
            state.detach()
            let expiryOverride: UInt32? = g.pick([nil, nil, 5, UInt32.max])
            if let expiryOverride { state.expiryInterval = expiryOverride }
            if g.chance(0.3) { state.will = nil }  // a normal DISCONNECT
            let expiry = state.expiryInterval
            if let will = state.will {
                let delay = min(will.delayInterval, expiry)
                if delay == 0 { state.will = nil } else { timers.willDueAt = now.adding(seconds: delay) }
            }
            if expiry != 0, expiry != .max { timers.expiresAt = now.adding(seconds: expiry) }
            return [.detached(expiryInterval: state.expiryInterval, will: state.will, timers: timers)]
        case 3:  // SessionActor.timerFired: the delayed will was published
            guard !state.isConnected, timers.willDueAt != nil, state.will != nil else { return [] }
            timers.willDueAt = nil
            state.will = nil
            return [.timers(will: nil, timers: timers)]
        case 4, 5, 6, 7:  // SessionActor.deliver; QoS 0 alone to a connected client is not recorded
            let items = (0..<g.int(1...4)).map { _ in randomMessage(&g, now: now) }
            let changesState = !state.isConnected
                || items.contains { $0.message.qos != .atMostOnce && $0.delivery.qos != .atMostOnce }
            note(state.deliver(items, now: now))
            return changesState ? [.delivered(items, now: now)] : []
        case 8, 9:
            let id = packetID(&g)
            note(state.pubAck(id, now: now))
            return [.pubAck(id, now: now)]
        case 10, 11:
            let id = packetID(&g)
            let code = g.pick(Self.reasonCodes)
            note(state.pubRec(id, reasonCode: code, now: now))
            return [.pubRec(id, code, now: now)]
        case 12:
            let id = packetID(&g)
            note(state.pubComp(id, now: now))
            return [.pubComp(id, now: now)]
        case 13:  // incoming QoS 2: a new or retransmitted PUBLISH, or a PUBREL (known or not)
            if g.chance(0.5) {
                let id = !incomingIDs.isEmpty && g.chance(0.3) ? g.pick(incomingIDs) : PacketID(rawValue: UInt16(g.int(1...30)))!
                incomingIDs.append(id)
                return state.receiveQoS2(id) ? [.receivedQoS2(id)] : []
            }
            let id = !incomingIDs.isEmpty && g.chance(0.8) ? g.pick(incomingIDs) : PacketID(rawValue: UInt16(g.int(1...30)))!
            return state.releaseQoS2(id) ? [.releasedQoS2(id)] : []
        case 14:  // SessionActor.subscribe
            let subs = (0..<g.int(1...3)).map { _ in
                let filter = g.filter()
                return StoredSubscription(filter: filter, options: g.options(shared: filter.rawValue.hasPrefix("$")),
                                          identifier: g.identifier())
            }
            for sub in subs { state.subscriptions[sub.filter.rawValue] = sub }
            return [.subscribed(subs)]
        default:  // SessionActor.unsubscribe
            let known = state.subscriptions.values.map(\.filter).sorted { $0.rawValue < $1.rawValue }
            let filters = (0..<g.int(1...3)).map { _ in !known.isEmpty && g.chance(0.7) ? g.pick(known) : g.filter() }
            let existed = filters.map { state.subscriptions.removeValue(forKey: $0.rawValue) != nil }
            let removed = zip(filters, existed).filter(\.1).map(\.0)
            return removed.isEmpty ? [] : [.unsubscribed(removed)]
        }
    }
}

func binaryRoundTrip<T: Codable>(_ value: T) throws -> T {
    var buffer = ByteBuffer()
    try BinaryEncoder().encode(value, into: &buffer)
    let decoded = try BinaryDecoder().decode(T.self, from: &buffer)
    #expect(buffer.readableBytes == 0)
    return decoded
}

@Suite struct SessionReplicaTests {
    /// Compares a copy with the primary: observables, then the probe. Returns a failure description, or nil.
    static func mismatch(_ primary: PrimarySession, _ copy: SessionSnapshot, _ g: inout RoutingGenerator, now: Timestamp)
        -> String?
    {
        let differences = SessionObservation(primary.state, timers: primary.timers)
            .differences(from: SessionObservation(copy))
        if !differences.isEmpty { return differences.joined(separator: "; ") }
        let receiveMaximum = g.int(1...5)
        let extra = (0..<3).map { _ in primary.randomMessage(&g, now: now) }
        let expected = sessionProbe(primary.state, receiveMaximum: receiveMaximum, now: now, extra: extra)
        let actual = sessionProbe(copy.state, receiveMaximum: receiveMaximum, now: now, extra: extra)
        return expected == actual ? nil : "attach(receiveMaximum: \(receiveMaximum)) outputs \(actual), expected \(expected)"
    }

    @Test(arguments: 0..<48)
    func replicaReplayingEventsEqualsThePrimary(seed: UInt64) throws {
        var g = RoutingGenerator(seed: 0x5E55_0000 &+ seed)
        var primary = PrimarySession(state: SessionState(
            clientID: "c1", expiryInterval: 60, queueCapacity: g.int(2...8), queueQoS0WhileOffline: g.chance(0.7)))
        var now = Timestamp(milliseconds: 1_700_000_000_000)
        let steps = 150
        let snapshotAt = g.chance(0.2) ? 0 : g.int(0...steps - 1)
        var replica: SessionSnapshot?
        for step in 0..<steps {
            if step == snapshotAt {
                // The replica starts from a snapshot that travelled over the wire.
                replica = try binaryRoundTrip(SessionSnapshot(state: primary.state, timers: primary.timers))
            }
            now = now.adding(milliseconds: Int64(g.int(0...2_500)))
            let events = primary.step(&g, now: now)
            guard var copy = replica else { continue }
            // Events travel as a `ReplicaUpdate` through the cluster's coder, as they do between nodes.
            let update = try binaryRoundTrip(ReplicaUpdate(clientID: "c1", sequence: UInt64(step), change: .events(events)))
            guard case .events(let received) = update.change else { Issue.record("decoded a different change"); return }
            #expect(received == events)
            for event in received { copy.apply(event) }
            replica = copy
            var probeGen = RoutingGenerator(seed: seed &* 1000 &+ UInt64(step))
            if let failure = Self.mismatch(primary, copy, &probeGen, now: now) {
                Issue.record("seed \(seed) step \(step) (snapshot at \(snapshotAt)) after \(events): \(failure)")
                return
            }
            if step % 10 == 9 || step == steps - 1 {
                let decoded = try binaryRoundTrip(copy)
                if let failure = Self.mismatch(primary, decoded, &probeGen, now: now) {
                    Issue.record("seed \(seed) step \(step): the binary round trip changed the snapshot: \(failure)")
                    return
                }
            }
        }
        // The run must have exercised the interesting paths, or it proves little.
        #expect(!primary.seenIDs.isEmpty)
    }

    /// The probe itself tells copies apart that differ only in the next packet identifier.
    @Test func probeSeesTheNextPacketIdentifier() {
        let d = SessionFixtures.delivery(SessionFixtures.message(qos: .atLeastOnce))
        var a = SessionState(clientID: "c1", expiryInterval: 60, queueCapacity: 10)
        _ = a.attach(receiveMaximum: 5, now: SessionFixtures.t0)
        let b = a
        let sent = a.deliver([d], now: SessionFixtures.t0)
        _ = a.pubAck(SessionFixtures.publishes(sent)[0].packetID!, now: SessionFixtures.t0)
        #expect(SessionObservation(a, timers: .init()) == SessionObservation(b, timers: .init()))
        #expect(sessionProbe(a, receiveMaximum: 5, now: SessionFixtures.t0, extra: [d])
            != sessionProbe(b, receiveMaximum: 5, now: SessionFixtures.t0, extra: [d]))
    }
}

@Suite struct ReplicaStoreTests {
    static let nodeA1 = NodeID(name: NodeName("a")!, incarnation: Incarnation(rawValue: 1))
    static let nodeA2 = NodeID(name: NodeName("a")!, incarnation: Incarnation(rawValue: 2))
    static let nodeB1 = NodeID(name: NodeName("b")!, incarnation: Incarnation(rawValue: 1))

    static func snapshot(_ client: ClientID) -> SessionSnapshot {
        SessionSnapshot(state: SessionState(clientID: client, expiryInterval: 60, queueCapacity: 10), timers: .init())
    }

    static func subscribed(_ filter: TopicFilter) -> SessionEvent {
        .subscribed([StoredSubscription(filter: filter, options: .init(qos: .atLeastOnce), identifier: nil)])
    }

    static func filters(_ store: ReplicaStore, _ client: ClientID) -> [String] {
        store.entries[client].map { $0.snapshot.state.subscriptions.keys.sorted() } ?? []
    }

    @Test func eventsBeforeAnySnapshotAskForAResync() {
        var store = ReplicaStore()
        let resync = store.apply([ReplicaUpdate(clientID: "c1", sequence: 1, change: .events([Self.subscribed("x")]))],
                                 from: Self.nodeA1)
        #expect(resync == ["c1"])
        #expect(store.count == 0)
    }

    @Test func eventsFollowingTheSnapshotApplyInOrder() {
        var store = ReplicaStore()
        let resync = store.apply([
            ReplicaUpdate(clientID: "c1", sequence: 5, change: .snapshot(Self.snapshot("c1"))),
            ReplicaUpdate(clientID: "c1", sequence: 7, change: .events([Self.subscribed("x"), Self.subscribed("y")])),
            ReplicaUpdate(clientID: "c1", sequence: 8, change: .events([.unsubscribed(["x"])])),
        ], from: Self.nodeA1)
        #expect(resync.isEmpty)
        #expect(store.entries["c1"]?.sequence == 8)
        #expect(store.entries["c1"]?.primary == Self.nodeA1)
        #expect(Self.filters(store, "c1") == ["y"])
    }

    @Test(arguments: [UInt64(5), 6, 8, 100])
    func aGapInTheSequenceAsksForAResyncAndAppliesNothing(sequence: UInt64) {
        var store = ReplicaStore()
        _ = store.apply([ReplicaUpdate(clientID: "c1", sequence: 5, change: .snapshot(Self.snapshot("c1")))], from: Self.nodeA1)
        // One event after sequence 5 must carry sequence 6 exactly; 6 with two events, 5, 8 and 100 do not follow
        // (nor does the next update, two further on).
        let events = sequence == 6 ? [Self.subscribed("x"), Self.subscribed("y")] : [Self.subscribed("x")]
        let resync = store.apply([
            ReplicaUpdate(clientID: "c1", sequence: sequence, change: .events(events)),
            ReplicaUpdate(clientID: "c1", sequence: sequence + 2, change: .events([Self.subscribed("z")])),
        ], from: Self.nodeA1)
        #expect(resync == ["c1"])  // once, though both updates were refused
        #expect(store.entries["c1"]?.sequence == 5)
        #expect(Self.filters(store, "c1") == [])
    }

    @Test func eventsFromAnotherIncarnationOfThePrimaryAskForAResync() {
        var store = ReplicaStore()
        _ = store.apply([ReplicaUpdate(clientID: "c1", sequence: 1, change: .snapshot(Self.snapshot("c1")))], from: Self.nodeA1)
        for other in [Self.nodeA2, Self.nodeB1] {
            let resync = store.apply([ReplicaUpdate(clientID: "c1", sequence: 2, change: .events([Self.subscribed("x")]))],
                                     from: other)
            #expect(resync == ["c1"])
        }
        #expect(store.entries["c1"]?.sequence == 1)
        #expect(store.entries["c1"]?.primary == Self.nodeA1)
        #expect(Self.filters(store, "c1") == [])
        // A snapshot from the new incarnation takes over; its events then apply.
        let resync = store.apply([
            ReplicaUpdate(clientID: "c1", sequence: 0, change: .snapshot(Self.snapshot("c1"))),
            ReplicaUpdate(clientID: "c1", sequence: 1, change: .events([Self.subscribed("x")])),
        ], from: Self.nodeA2)
        #expect(resync.isEmpty)
        #expect(store.entries["c1"]?.primary == Self.nodeA2)
        #expect(Self.filters(store, "c1") == ["x"])
    }

    @Test func dropRemovesOnlyAnEntryOfTheSamePrimaryName() {
        var store = ReplicaStore()
        _ = store.apply([ReplicaUpdate(clientID: "c1", sequence: 1, change: .snapshot(Self.snapshot("c1")))], from: Self.nodeA1)
        _ = store.apply([ReplicaUpdate(clientID: "c1", sequence: 1, change: .drop)], from: Self.nodeB1)
        #expect(store.entries["c1"] != nil)
        _ = store.apply([ReplicaUpdate(clientID: "c2", sequence: 1, change: .drop)], from: Self.nodeA1)  // unknown
        #expect(store.count == 1)
        // Any incarnation of the same node may drop it (the name is what is compared).
        let resync = store.apply([ReplicaUpdate(clientID: "c1", sequence: 9, change: .drop)], from: Self.nodeA2)
        #expect(resync.isEmpty)
        #expect(store.entries["c1"] == nil)
    }

    @Test func takeAllReturnsAndRemovesExactlyThatNodesEntries() {
        var store = ReplicaStore()
        _ = store.apply([
            ReplicaUpdate(clientID: "c1", sequence: 1, change: .snapshot(Self.snapshot("c1"))),
            ReplicaUpdate(clientID: "c2", sequence: 3, change: .snapshot(Self.snapshot("c2"))),
        ], from: Self.nodeA1)
        _ = store.apply([ReplicaUpdate(clientID: "c3", sequence: 1, change: .snapshot(Self.snapshot("c3")))], from: Self.nodeA2)
        _ = store.apply([ReplicaUpdate(clientID: "c4", sequence: 1, change: .snapshot(Self.snapshot("c4")))], from: Self.nodeB1)
        let taken = store.takeAll(primary: NodeName("a")!)
        #expect(Set(taken.map(\.0)) == ["c1", "c2", "c3"])
        #expect(taken.count == 3)
        #expect(taken.first { $0.0 == "c2" }?.1.sequence == 3)
        #expect(taken.allSatisfy { $0.1.snapshot.state.clientID == $0.0 })
        #expect(Array(store.entries.keys) == ["c4"])
        #expect(store.takeAll(primary: NodeName("a")!).isEmpty)
        #expect(store.takeAll(primary: NodeName("zz")!).isEmpty)
        #expect(store.count == 1)
    }
}
