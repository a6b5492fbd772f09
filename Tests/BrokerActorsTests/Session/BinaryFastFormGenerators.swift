import ClusterTransport
import MQTTCore
import NIOCore
import Testing

@testable import BrokerActors

/// Random values of every type with a fast binary form, covering empty and large payloads, unicode topics, every
/// optional field both absent and present, user properties and expiry.
struct FastFormGenerator {
    var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func chance(_ probability: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < probability }
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }
    mutating func pick<T>(_ values: [T]) -> T { values[int(0...values.count - 1)] }

    static let words = ["a", "sensors", "ünï", "тема", "😀", "$SYS", " ", "x-y_z", "ÿ"]

    mutating func text(maxWords: Int = 3) -> String {
        (0..<int(0...maxWords)).map { _ in pick(Self.words) }.joined(separator: chance(0.5) ? "/" : "")
    }

    mutating func topic() -> TopicName {
        let text = (0..<int(1...4)).map { _ in chance(0.2) ? "" : pick(Self.words) }.joined(separator: "/")
        return (try? TopicName(validating: text)) ?? "fallback"
    }

    mutating func filter() -> TopicFilter {
        var levels = (0..<int(1...4)).map { _ in chance(0.3) ? "+" : pick(Self.words) }
        if chance(0.25) { levels[levels.count - 1] = "#" }
        let inner = levels.joined(separator: "/")
        let prefix = pick(["", "", "$share/g1/", "$share/ünï/", "$queue/"])
        return (try? TopicFilter(validating: prefix + inner)) ?? "fallback/#"
    }

    mutating func clientID() -> ClientID { (try? ClientID(validating: "c-\(pick(Self.words))-\(int(0...99))")) ?? "c" }

    mutating func bytes(maxCount: Int) -> ByteBuffer {
        let count = chance(0.25) ? 0 : int(0...maxCount)
        return ByteBuffer(bytes: (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }

    mutating func timestamp() -> Timestamp {
        Timestamp(milliseconds: chance(0.1) ? pick([0, -1, .max, .min]) : Int64(int(0...4_000_000_000_000)))
    }

    mutating func packetID() -> PacketID { PacketID(rawValue: UInt16(int(1...65_535)))! }
    mutating func qos() -> MQTTQoS { pick(MQTTQoS.allCases) }
    mutating func uint32() -> UInt32 { chance(0.2) ? pick([0, 127, 128, .max]) : UInt32(int(0...300_000)) }
    mutating func identifiers() -> [UInt32] { (0..<int(0...3)).map { _ in uint32() } }

    mutating func properties() -> MessageProperties {
        guard chance(0.6) else { return MessageProperties() }
        return MessageProperties(
            payloadFormatIndicator: chance(0.5) ? UInt8(int(0...255)) : nil, contentType: chance(0.5) ? text() : nil,
            responseTopic: chance(0.5) ? topic().value : nil, correlationData: chance(0.5) ? bytes(maxCount: 20) : nil,
            userProperties: (0..<int(0...3)).map { _ in MQTTUserProperty(text(), text()) })
    }

    mutating func message() -> Message {
        Message(
            topic: topic(), payload: bytes(maxCount: chance(0.1) ? 400 : 40), qos: qos(), retain: chance(0.3),
            publisher: chance(0.6) ? clientID() : nil, properties: properties(), expiresAt: chance(0.3) ? timestamp() : nil)
    }

    mutating func delivery() -> Delivery {
        Delivery(clientID: clientID(), qos: qos(), subscriptionIdentifiers: identifiers(), retainAsPublished: chance(0.5))
    }

    mutating func sessionDelivery() -> SessionDelivery {
        SessionDelivery(message: message(), delivery: delivery(), isRetainedDelivery: chance(0.3))
    }

    mutating func outgoingPublish() -> OutgoingPublish {
        let qos = qos()
        return OutgoingPublish(
            message: message(), qos: qos, packetID: qos == .atMostOnce ? nil : packetID(), dup: chance(0.3),
            retain: chance(0.3), subscriptionIdentifiers: identifiers())
    }

    mutating func sessionOutput() -> SessionOutput { chance(0.8) ? .publish(outgoingPublish()) : .pubRel(packetID()) }

    mutating func groupKey() -> SharedGroupKey { SharedGroupKey(group: pick(["g1", "ünï", "$queue", ""]), filter: text()) }

    mutating func selection() -> RouteSelection {
        RouteSelection(direct: chance(0.5), groups: chance(0.5) ? Set((0..<int(0...3)).map { _ in groupKey() }) : nil)
    }

    mutating func routedMessage() -> RoutedMessage {
        RoutedMessage(message: message(), selection: selection(), onlyAdoptedFrom: chance(0.3) ? text() : nil)
    }

    mutating func timers() -> SessionTimers {
        SessionTimers(willDueAt: chance(0.5) ? timestamp() : nil, expiresAt: chance(0.5) ? timestamp() : nil)
    }

    mutating func will() -> WillMessage? {
        guard chance(0.5) else { return nil }
        return WillMessage(message: message(), delayInterval: uint32(), expiryInterval: chance(0.5) ? uint32() : nil)
    }

    mutating func subscription() -> StoredSubscription {
        StoredSubscription(
            filter: filter(),
            options: MQTTPacket.SubscriptionOptions(
                qos: qos(), noLocal: chance(0.5), retainAsPublished: chance(0.5),
                retainHandling: pick([.sendOnSubscribe, .sendOnNewSubscribe, .doNotSend])),
            identifier: chance(0.5) ? uint32() : nil)
    }

    /// Every case, with `.delivered` and `.pubAck` the most common (as in a QoS 1 load).
    mutating func event() -> SessionEvent {
        switch int(0...13) {
        case 0: .attached(receiveMaximum: pick([0, 1, 65_535, -1, .max, .min]), expiryInterval: uint32(), will: will(), now: timestamp())
        case 1: .detached(expiryInterval: uint32(), will: will(), timers: timers())
        case 2: .timers(will: will(), timers: timers())
        case 3, 4, 5: .delivered((0..<int(0...3)).map { _ in sessionDelivery() }, now: timestamp())
        case 6, 7: .pubAck(packetID(), now: timestamp())
        case 8: .pubRec(packetID(), MQTTReasonCode(rawValue: UInt8(int(0...255))), now: timestamp())
        case 9: .pubComp(packetID(), now: timestamp())
        case 10: .receivedQoS2(packetID())
        case 11: .releasedQoS2(packetID())
        case 12: .subscribed((0..<int(0...3)).map { _ in subscription() })
        default: .unsubscribed((0..<int(0...3)).map { _ in filter() })
        }
    }

    /// A session with subscriptions, a will, and messages in flight and queued.
    mutating func snapshot() -> SessionSnapshot {
        var state = SessionState(
            clientID: clientID(), expiryInterval: uint32(), queueCapacity: int(1...6), queueQoS0WhileOffline: chance(0.5))
        for _ in 0..<int(0...3) {
            let sub = subscription()
            state.subscriptions[sub.filter.rawValue] = sub
        }
        state.will = will()
        _ = state.attach(receiveMaximum: int(1...3), now: timestamp())
        _ = state.deliver((0..<int(0...6)).map { _ in sessionDelivery() }, now: Timestamp(milliseconds: 0))
        if chance(0.5) { state.detach() }
        return SessionSnapshot(state: state, timers: timers())
    }

    mutating func replicaUpdate() -> ReplicaUpdate {
        let change: ReplicaUpdate.Change =
            switch int(0...9) {
            case 0: .snapshot(snapshot())
            case 1: .drop
            default: .events((0..<int(0...4)).map { _ in event() })
            }
        return ReplicaUpdate(clientID: clientID(), sequence: chance(0.1) ? .max : UInt64(int(0...1_000_000)), change: change)
    }
}

// MARK: Comparing and coding

/// `ReplicaUpdate` and `SessionSnapshot` are not `Equatable`: what a test compares of them.
struct ReplicaUpdateObservation: Equatable {
    var clientID: ClientID
    var sequence: UInt64
    var events: [SessionEvent]?
    var snapshot: SessionObservation?
    var isDrop: Bool

    init(_ update: ReplicaUpdate) {
        clientID = update.clientID
        sequence = update.sequence
        switch update.change {
        case .snapshot(let snapshot): self.snapshot = SessionObservation(snapshot)
        case .events(let events): self.events = events
        case .drop: break
        }
        if case .drop = update.change { isDrop = true } else { isDrop = false }
    }
}

func fastEncode<T: Encodable>(_ value: T) throws -> ByteBuffer {
    var buffer = ByteBuffer()
    try BinaryEncoder().encode(value, into: &buffer)
    return buffer
}

func fastDecode<T: Decodable>(_ type: T.Type, _ buffer: ByteBuffer) throws -> T {
    var buffer = buffer
    let value = try BinaryDecoder().decode(type, from: &buffer)
    guard buffer.readableBytes == 0 else { throw BinaryCodingError(.malformed, "\(buffer.readableBytes) bytes left") }
    return value
}

/// The fast form alone (what `writeBinary` writes), as bytes.
func fastBody<T: BinaryFastCodable>(_ value: T) throws -> [UInt8] {
    var buffer = ByteBuffer()
    try value.writeBinary(to: &buffer)
    return Array(buffer.readableBytesView)
}

/// `bytes` as the coder's bytes value (tag, length, bytes).
func fastWrapped(_ bytes: [UInt8]) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeInteger(UInt8(0x08))
    buffer.writeFastBytes(ByteBuffer(bytes: bytes))
    return buffer
}

/// Encodes through the value's own `encode(to:)`: the `Codable` form, as written before the fast path.
struct ViaCodable<T: Encodable>: Encodable {
    var value: T
    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}
