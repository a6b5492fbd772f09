import MQTTCore
import NIOCore
import Testing

@testable import BrokerActors

@Suite struct ConnectionStateMachineTests {
    typealias Action = ConnectionStateMachine.Action
    static let t0 = Timestamp(milliseconds: 5_000_000)

    static func connect(_ version: MQTTProtocolVersion = .v5, id: String = "c1", clean: Bool = true,
                        keepAlive: UInt16 = 60, properties: MQTTProperties = .init()) -> MQTTPacket {
        .connect(.init(version: version, clientID: id, cleanStart: clean, keepAlive: keepAlive, properties: properties))
    }

    /// A machine that has completed CONNECT/CONNACK.
    static func connected(_ version: MQTTProtocolVersion = .v5, properties: MQTTProperties = .init(),
                          limits: ConnectionLimits = .init()) -> ConnectionStateMachine {
        var m = ConnectionStateMachine(limits: limits, now: t0)
        _ = m.received(connect(version, properties: properties), now: t0)
        _ = m.brokerResponded(.connected(.init(reasonCode: .success)), now: t0)
        return m
    }

    static func sent(_ actions: [Action]) -> [MQTTPacket] {
        actions.compactMap { if case .send(let p) = $0 { p } else { nil } }
    }

    static func requests(_ actions: [Action]) -> [BrokerRequest] {
        actions.compactMap { if case .request(let r) = $0 { r } else { nil } }
    }

    static func closes(_ actions: [Action]) -> Bool {
        actions.contains { if case .close = $0 { true } else { false } }
    }

    @Test func connectBecomesARequestAndConnAckFollowsTheBroker() {
        var m = ConnectionStateMachine(limits: .init(), now: Self.t0)
        let actions = m.received(Self.connect(properties: { var p = MQTTProperties(); p.sessionExpiryInterval = 30; return p }()), now: Self.t0)
        guard case .connect(let request)? = Self.requests(actions).first else { Issue.record("no connect"); return }
        #expect(request.clientID == "c1" && request.sessionExpiryInterval == 30 && request.cleanStart)
        let reply = Self.sent(m.brokerResponded(.connected(.init(reasonCode: .success, sessionPresent: true)), now: Self.t0))
        guard case .connAck(let ack)? = reply.first else { Issue.record("no connack"); return }
        #expect(ack.sessionPresent && ack.reasonCode == .success)
        #expect(ack.properties.receiveMaximum == 1024 && ack.properties.topicAliasMaximum == 64)
    }

    @Test(arguments: [(MQTTProtocolVersion.v3_1_1, true, true), (.v3_1_1, false, false), (.v3_1, true, false),
                      (.v5, false, true)])
    func emptyClientIdentifier(version: MQTTProtocolVersion, clean: Bool, accepted: Bool) {
        var m = ConnectionStateMachine(limits: .init(), now: Self.t0)
        let actions = m.received(Self.connect(version, id: "", clean: clean), now: Self.t0)
        if accepted {
            guard case .connect(let r)? = Self.requests(actions).first else { Issue.record("refused"); return }
            #expect(r.assignedClientID && r.clientID.value.hasPrefix("starling-"))
        } else {
            // [MQTT-3.1.3-8] CONNACK 0x02 identifier rejected, then close.
            guard case .connAck(let ack)? = Self.sent(actions).first else { Issue.record("no connack"); return }
            #expect(ack.reasonCode == .clientIdentifierNotValid)
            #expect(Self.closes(actions))
        }
    }

    @Test func assignedIdentifierIsReturnedInConnAck() {
        var m = ConnectionStateMachine(limits: .init(), now: Self.t0)
        let r = Self.requests(m.received(Self.connect(id: ""), now: Self.t0))
        guard case .connect(let request)? = r.first else { return }
        guard case .connAck(let ack)? = Self.sent(m.brokerResponded(.connected(.init(reasonCode: .success)), now: Self.t0)).first
        else { Issue.record("no connack"); return }
        #expect(ack.properties.assignedClientIdentifier == request.clientID.value)
    }

    @Test func secondConnectIsAProtocolError() {
        var m = Self.connected()
        let actions = m.received(Self.connect(), now: Self.t0)
        #expect(Self.sent(actions) == [.disconnect(.init(reasonCode: .protocolError))])
        #expect(Self.closes(actions))
        guard case .connectionLost? = Self.requests(actions).first else { Issue.record("will not triggered"); return }
    }

    @Test func packetsBeforeConnAckWaitForIt() {
        var m = ConnectionStateMachine(limits: .init(), now: Self.t0)
        _ = m.received(Self.connect(), now: Self.t0)
        #expect(m.received(.pingReq, now: Self.t0).isEmpty)
        let out = Self.sent(m.brokerResponded(.connected(.init(reasonCode: .success)), now: Self.t0))
        #expect(out.count == 2 && out[1] == .pingResp)
    }

    @Test func keepAliveClosesAfterOneAndAHalfIntervals() {
        var m = ConnectionStateMachine(limits: .init(), now: Self.t0)
        _ = m.received(Self.connect(keepAlive: 10), now: Self.t0)
        _ = m.brokerResponded(.connected(.init(reasonCode: .success)), now: Self.t0)
        #expect(m.tick(now: Self.t0.adding(milliseconds: 14_999), connectTimeoutMilliseconds: 1000).isEmpty)
        let actions = m.tick(now: Self.t0.adding(milliseconds: 15_000), connectTimeoutMilliseconds: 1000)
        #expect(Self.sent(actions) == [.disconnect(.init(reasonCode: .keepAliveTimeout))])
        #expect(Self.closes(actions))
    }

    @Test func serverKeepAliveCapsTheClient() {
        var limits = ConnectionLimits()
        limits.maximumKeepAlive = 30
        var m = ConnectionStateMachine(limits: limits, now: Self.t0)
        _ = m.received(Self.connect(keepAlive: 0), now: Self.t0)
        guard case .connAck(let ack)? = Self.sent(m.brokerResponded(.connected(.init(reasonCode: .success)), now: Self.t0)).first
        else { Issue.record("no connack"); return }
        #expect(ack.properties.serverKeepAlive == 30 && m.keepAlive == 30)
    }

    @Test func connectTimeout() {
        var m = ConnectionStateMachine(limits: .init(), now: Self.t0)
        #expect(m.tick(now: Self.t0.adding(milliseconds: 999), connectTimeoutMilliseconds: 1000).isEmpty)
        #expect(Self.closes(m.tick(now: Self.t0.adding(milliseconds: 1000), connectTimeoutMilliseconds: 1000)))
    }

    @Test func inboundTopicAliasesResolve() {
        var m = Self.connected()
        var props = MQTTProperties()
        props.topicAlias = 3
        _ = m.received(.publish(.init(topic: "x/y", payload: ByteBuffer(), properties: props)), now: Self.t0)
        let r = Self.requests(m.received(.publish(.init(topic: nil, payload: ByteBuffer(), properties: props)), now: Self.t0))
        guard case .publish(let message, _)? = r.first else { Issue.record("not routed"); return }
        #expect(message.topic == "x/y")
    }

    @Test(arguments: [UInt16(65), 200])
    func topicAliasAboveMaximumIsRejected(alias: UInt16) {
        var m = Self.connected()
        var props = MQTTProperties()
        props.topicAlias = alias
        let actions = m.received(.publish(.init(topic: "x", payload: ByteBuffer(), properties: props)), now: Self.t0)
        #expect(Self.sent(actions) == [.disconnect(.init(reasonCode: .topicAliasInvalid))])
    }

    @Test func unknownAliasIsAProtocolError() {
        var m = Self.connected()
        var props = MQTTProperties()
        props.topicAlias = 5
        let actions = m.received(.publish(.init(topic: nil, payload: ByteBuffer(), properties: props)), now: Self.t0)
        #expect(Self.sent(actions) == [.disconnect(.init(reasonCode: .protocolError))])
    }

    @Test func outboundAliasesAreAssignedThenReused() {
        var clientProps = MQTTProperties()
        clientProps.topicAliasMaximum = 2
        var m = Self.connected(properties: clientProps)
        func send(_ topic: TopicName) -> MQTTPacket.Publish? {
            let out = OutgoingPublish(message: SessionFixtures.message(topic, qos: .atMostOnce), qos: .atMostOnce,
                                      packetID: nil, dup: false, retain: false, subscriptionIdentifiers: [])
            guard case .publish(let p)? = Self.sent(m.deliver([.publish(out)], now: Self.t0)).first else { return nil }
            return p
        }
        let first = send("a")
        #expect(first?.topic == "a" && first?.properties.topicAlias == 1)
        let second = send("a")
        #expect(second?.topic == nil && second?.properties.topicAlias == 1)
        _ = send("b")
        let third = send("c")  // no alias left
        #expect(third?.topic == "c" && third?.properties.topicAlias == nil)
    }

    @Test func receiveMaximumIsEnforced() {
        var limits = ConnectionLimits()
        limits.receiveMaximum = 2
        var m = Self.connected(limits: limits)
        for id in [1, 2] as [UInt16] {
            _ = m.received(.publish(.init(topic: "t", payload: ByteBuffer(), qos: .atLeastOnce, packetID: PacketID(rawValue: id))), now: Self.t0)
        }
        let actions = m.received(.publish(.init(topic: "t", payload: ByteBuffer(), qos: .atLeastOnce, packetID: PacketID(rawValue: 3))), now: Self.t0)
        #expect(Self.sent(actions) == [.disconnect(.init(reasonCode: .receiveMaximumExceeded))])
    }

    @Test func ackFollowsBrokerResult() {
        var m = Self.connected()
        let id = PacketID(rawValue: 9)!
        _ = m.received(.publish(.init(topic: "t", payload: ByteBuffer(), qos: .atLeastOnce, packetID: id)), now: Self.t0)
        #expect(Self.sent(m.brokerResponded(.published(id, .atLeastOnce, .noMatchingSubscribers), now: Self.t0))
                == [.pubAck(.init(packetID: id, reasonCode: .noMatchingSubscribers))])
    }

    @Test func disconnectWithWillRequestsIt() {
        var m = Self.connected()
        let actions = m.received(.disconnect(.init(reasonCode: .disconnectWithWillMessage)), now: Self.t0)
        guard case .disconnect(let will, _)? = Self.requests(actions).first else { Issue.record("no request"); return }
        #expect(will && Self.closes(actions))
    }

    @Test func sessionExpiryCannotBeRaisedFromZeroOnDisconnect() {
        var m = Self.connected()
        var props = MQTTProperties()
        props.sessionExpiryInterval = 10
        let actions = m.received(.disconnect(.init(properties: props)), now: Self.t0)
        #expect(Self.sent(actions) == [.disconnect(.init(reasonCode: .protocolError))])  // [MQTT-3.14.2-2]
    }

    @Test func oversizedOutgoingMessageIsDroppedAndAcknowledged() {
        var clientProps = MQTTProperties()
        clientProps.maximumPacketSize = 32
        var m = Self.connected(properties: clientProps)
        let big = OutgoingPublish(message: SessionFixtures.message(payload: String(repeating: "x", count: 64)), qos: .atLeastOnce,
                                  packetID: PacketID(rawValue: 4), dup: false, retain: false, subscriptionIdentifiers: [])
        let actions = m.deliver([.publish(big)], now: Self.t0)
        #expect(Self.sent(actions).isEmpty)
        guard case .pubAck(let id)? = Self.requests(actions).first else { Issue.record("not acked"); return }
        #expect(id.rawValue == 4)
    }

    @Test func outputBeforeConnAckIsHeldUntilAfterIt() {
        var m = ConnectionStateMachine(limits: .init(), now: Self.t0)
        _ = m.received(Self.connect(), now: Self.t0)
        let out = OutgoingPublish(message: SessionFixtures.message(qos: .atMostOnce), qos: .atMostOnce, packetID: nil,
                                  dup: false, retain: false, subscriptionIdentifiers: [])
        #expect(m.deliver([.publish(out)], now: Self.t0).isEmpty)
        let packets = Self.sent(m.brokerResponded(.connected(.init(reasonCode: .success)), now: Self.t0))
        guard packets.count == 2, case .connAck = packets[0], case .publish = packets[1] else {
            Issue.record("order: \(packets)")
            return
        }
    }

    @Test func payloadFormatIndicatorIsChecked() {
        var m = Self.connected()
        var props = MQTTProperties()
        props.payloadFormatIndicator = 1
        let bad = ByteBuffer(bytes: [0xFF, 0xFE])
        let actions = m.received(.publish(.init(topic: "t", payload: bad, properties: props)), now: Self.t0)
        #expect(Self.sent(actions) == [.disconnect(.init(reasonCode: .payloadFormatInvalid))])
    }
}
