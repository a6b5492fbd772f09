import MQTTCore
import NIOCore
import Testing

@testable import BrokerActors

/// Builders shared by the session tests.
enum SessionFixtures {
    static let t0 = Timestamp(milliseconds: 1_000_000)

    static func message(_ topic: TopicName = "a/b", qos: MQTTQoS = .atLeastOnce, payload: String = "x",
                        retain: Bool = false, expiresAt: Timestamp? = nil) -> Message {
        Message(topic: topic, payload: ByteBuffer(string: payload), qos: qos, retain: retain, publisher: "pub",
                expiresAt: expiresAt)
    }

    static func delivery(_ message: Message, subscriptionQoS: MQTTQoS = .exactlyOnce, rap: Bool = false,
                         ids: [UInt32] = [], retained: Bool = false) -> SessionDelivery {
        SessionDelivery(
            message: message,
            delivery: Delivery(clientID: "sub", qos: subscriptionQoS, subscriptionIdentifiers: ids, retainAsPublished: rap),
            isRetainedDelivery: retained)
    }

    static func session(queue: Int = 100, receiveMaximum: Int = 10, connected: Bool = true) -> SessionState {
        var state = SessionState(clientID: "sub", expiryInterval: 3600, queueCapacity: queue)
        if connected { _ = state.attach(receiveMaximum: receiveMaximum, now: t0) }
        return state
    }

    static func publishes(_ outputs: [SessionOutput]) -> [OutgoingPublish] {
        outputs.compactMap { if case .publish(let p) = $0 { p } else { nil } }
    }
}

@Suite struct SessionStateTests {
    typealias F = SessionFixtures

    @Test(arguments: [
        (MQTTQoS.atMostOnce, MQTTQoS.exactlyOnce, MQTTQoS.atMostOnce),
        (.atLeastOnce, .exactlyOnce, .atLeastOnce),
        (.exactlyOnce, .atLeastOnce, .atLeastOnce),
        (.exactlyOnce, .exactlyOnce, .exactlyOnce),
        (.exactlyOnce, .atMostOnce, .atMostOnce),
    ])
    func deliversAtTheLowerOfMessageAndSubscriptionQoS(message: MQTTQoS, subscription: MQTTQoS, expected: MQTTQoS) {
        var s = F.session()
        let out = F.publishes(s.deliver([F.delivery(F.message(qos: message), subscriptionQoS: subscription)], now: F.t0))
        #expect(out.count == 1)
        #expect(out[0].qos == expected)
        #expect((out[0].packetID == nil) == (expected == .atMostOnce))
    }

    @Test func windowHonoursReceiveMaximumAndDrainsOnAck() {
        var s = F.session(receiveMaximum: 2)
        let out = F.publishes(s.deliver((0..<5).map { F.delivery(F.message(payload: "\($0)")) }, now: F.t0))
        #expect(out.count == 2)
        #expect(s.inflightCount == 2)
        #expect(s.queue.count == 3)
        let next = F.publishes(s.pubAck(out[0].packetID!, now: F.t0))
        #expect(next.map { String(buffer: $0.message.payload) } == ["2"])
        #expect(s.inflightCount == 2)
    }

    @Test func qos0IsNotLimitedByTheWindow() {
        var s = F.session(receiveMaximum: 1)
        _ = s.deliver([F.delivery(F.message(qos: .atLeastOnce))], now: F.t0)
        let out = F.publishes(s.deliver([F.delivery(F.message(qos: .atMostOnce))], now: F.t0))
        #expect(out.count == 1 && out[0].qos == .atMostOnce)
    }

    @Test func reconnectResendsInflightWithDupThenPubRelThenQueue() {
        var s = F.session(receiveMaximum: 2)
        let sent = F.publishes(s.deliver(
            [F.delivery(F.message(qos: .atLeastOnce, payload: "1")), F.delivery(F.message(qos: .exactlyOnce, payload: "2")),
             F.delivery(F.message(qos: .atLeastOnce, payload: "3"))], now: F.t0))
        #expect(sent.count == 2)
        #expect(s.pubRec(sent[1].packetID!, reasonCode: .success, now: F.t0) == [.pubRel(sent[1].packetID!)])
        s.detach()
        #expect(s.deliver([F.delivery(F.message(qos: .atLeastOnce, payload: "4"))], now: F.t0).isEmpty)
        let resent = s.attach(receiveMaximum: 5, now: F.t0)
        #expect(resent.count == 4)
        guard case .publish(let first) = resent[0] else { Issue.record("expected publish"); return }
        #expect(first.dup && first.packetID == sent[0].packetID && String(buffer: first.message.payload) == "1")
        #expect(resent[1] == .pubRel(sent[1].packetID!))
        #expect(F.publishes(Array(resent[2...])).map { String(buffer: $0.message.payload) } == ["3", "4"])
        #expect(F.publishes(Array(resent[2...])).allSatisfy { !$0.dup })
    }

    @Test func qos2FlowCompletes() {
        var s = F.session()
        let p = F.publishes(s.deliver([F.delivery(F.message(qos: .exactlyOnce))], now: F.t0))[0]
        #expect(s.pubAck(p.packetID!, now: F.t0).isEmpty)  // wrong ack kind is ignored
        #expect(s.inflightCount == 1)
        #expect(s.pubRec(p.packetID!, reasonCode: .success, now: F.t0) == [.pubRel(p.packetID!)])
        _ = s.pubComp(p.packetID!, now: F.t0)
        #expect(s.inflightCount == 0)
    }

    @Test func pubRecWithFailureEndsTheFlow() {
        var s = F.session()
        let p = F.publishes(s.deliver([F.delivery(F.message(qos: .exactlyOnce))], now: F.t0))[0]
        #expect(s.pubRec(p.packetID!, reasonCode: .notAuthorized, now: F.t0).isEmpty)
        #expect(s.inflightCount == 0)
    }

    @Test func offlineQueueDropsOldestQoS0FirstThenOldest() {
        var s = F.session(queue: 3, connected: false)
        _ = s.deliver([
            F.delivery(F.message(qos: .atLeastOnce, payload: "a")), F.delivery(F.message(qos: .atMostOnce, payload: "b")),
            F.delivery(F.message(qos: .atLeastOnce, payload: "c")), F.delivery(F.message(qos: .atLeastOnce, payload: "d")),
            F.delivery(F.message(qos: .atLeastOnce, payload: "e")),
        ], now: F.t0)
        #expect(s.queue.elements.map { String(buffer: $0.message.payload) } == ["c", "d", "e"])
        #expect(s.queue.dropped == 2)
    }

    @Test func expiredMessagesAreNotSentAndExpiryIsReduced() {
        var s = F.session(connected: false)
        let soon = F.t0.adding(seconds: 10)
        _ = s.deliver([F.delivery(F.message(payload: "old", expiresAt: F.t0.adding(seconds: 1))),
                       F.delivery(F.message(payload: "new", expiresAt: soon))], now: F.t0)
        let later = F.t0.adding(seconds: 4)
        let out = F.publishes(s.attach(receiveMaximum: 10, now: later))
        #expect(out.map { String(buffer: $0.message.payload) } == ["new"])
        #expect(out[0].packet(now: later).properties.messageExpiryInterval == 6)
    }

    @Test(arguments: [(false, false, false, false), (false, true, false, false), (false, true, true, true),
                      (true, false, false, true), (true, false, true, true)])
    func retainFlagOnTheWire(retainedDelivery: Bool, rap: Bool, messageRetained: Bool, expected: Bool) {
        var s = F.session()
        let out = F.publishes(s.deliver(
            [F.delivery(F.message(retain: messageRetained), rap: rap, retained: retainedDelivery)], now: F.t0))
        #expect(out[0].retain == expected)
    }

    @Test func subscriptionIdentifiersAreCarried() {
        var s = F.session()
        let out = F.publishes(s.deliver([F.delivery(F.message(), ids: [3, 9])], now: F.t0))
        #expect(out[0].packet(now: F.t0).properties.subscriptionIdentifiers == [3, 9])
    }

    @Test func incomingQoS2IsExactlyOnce() {
        var s = F.session()
        let id = PacketID(rawValue: 7)!
        let first = s.receiveQoS2(id)
        let retransmission = s.receiveQoS2(id)  // DUP: not routed again
        let released = s.releaseQoS2(id)
        let releasedAgain = s.releaseQoS2(id)
        let reused = s.receiveQoS2(id)  // the identifier may be reused after PUBCOMP
        #expect(first && !retransmission && released && !releasedAgain && reused)
    }

    @Test func packetIdentifiersWrapAndSkipThoseInUse() {
        var s = F.session(receiveMaximum: 100)
        let held = F.publishes(s.deliver([F.delivery(F.message())], now: F.t0))[0].packetID!  // id 1, never acked
        #expect(held.rawValue == 1)
        var last: UInt16 = 1
        for _ in 0..<65_535 {
            let id = F.publishes(s.deliver([F.delivery(F.message())], now: F.t0))[0].packetID!
            _ = s.pubAck(id, now: F.t0)
            #expect(id != held)
            #expect(id.rawValue == (last == .max ? 2 : last + 1))
            last = id.rawValue
        }
        #expect(s.inflightCount == 1)
    }

    @Test func outOfOrderAcksKeepResendOrder() {
        var s = F.session(receiveMaximum: 10)
        let sent = F.publishes(s.deliver((0..<4).map { F.delivery(F.message(payload: "\($0)")) }, now: F.t0))
        _ = s.pubAck(sent[2].packetID!, now: F.t0)
        _ = s.pubAck(sent[0].packetID!, now: F.t0)
        s.detach()
        let resent = F.publishes(s.attach(receiveMaximum: 10, now: F.t0))
        #expect(resent.map { String(buffer: $0.message.payload) } == ["1", "3"])
    }

    @Test func resendAfterReconnectHonoursASmallerReceiveMaximum() {
        var s = F.session(receiveMaximum: 10)
        let sent = F.publishes(s.deliver((0..<5).map { F.delivery(F.message(payload: "\($0)")) }, now: F.t0))
        #expect(sent.count == 5)
        s.detach()
        let first = F.publishes(s.attach(receiveMaximum: 2, now: F.t0))
        #expect(first.map { String(buffer: $0.message.payload) } == ["0", "1"])
        let allDup = first.allSatisfy { $0.dup }
        #expect(allDup)
        // New messages wait behind the entries still to be resent.
        #expect(s.deliver([F.delivery(F.message(payload: "new"))], now: F.t0).isEmpty)
        let next = F.publishes(s.pubAck(first[0].packetID!, now: F.t0))
        #expect(next.map { String(buffer: $0.message.payload) } == ["2"])
        _ = s.pubAck(first[1].packetID!, now: F.t0)
        _ = s.pubAck(next[0].packetID!, now: F.t0)
        let rest = F.publishes(s.pubAck(sent[3].packetID!, now: F.t0))
        #expect(rest.map { String(buffer: $0.message.payload) } == ["new"])
        #expect(!rest[0].dup)
    }
}
