import BrokerActors
import MQTTCore
import NIOCore

/// SplitMix64: a tiny deterministic generator, so that a failing property reproduces from its seed.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random topics, filters and options over a small alphabet of levels, so that collisions and matches are common.
struct RoutingGenerator {
    /// Literal levels: ordinary, `$`-prefixed (for the `$` rule) and empty.
    static let levels = ["a", "b", "$x", ""]

    var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func chance(_ probability: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < probability }
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }
    mutating func pick<T>(_ values: [T]) -> T { values[int(0...values.count - 1)] }

    mutating func topic() -> TopicName {
        while true {
            let text = (0..<int(1...4)).map { _ in pick(Self.levels) }.joined(separator: "/")
            if let topic = try? TopicName(validating: text) { return topic }  // skips the empty topic
        }
    }

    /// The filter proper: literal levels and `+`, with `#` possibly last.
    mutating func innerFilter() -> String {
        while true {
            var levels = (0..<int(1...4)).map { _ in chance(0.3) ? "+" : pick(Self.levels) }
            if chance(0.25) { levels[levels.count - 1] = "#" }
            let text = levels.joined(separator: "/")
            if !text.isEmpty { return text }
        }
    }

    /// A filter, shared with probability `sharedProbability` (in one of a few groups, `$queue` included).
    mutating func filter(sharedProbability: Double = 0.25) -> TopicFilter {
        let inner = innerFilter()
        guard chance(sharedProbability) else { return try! TopicFilter(validating: inner) }
        let prefix = pick(["$share/g1/", "$share/g2/", "$queue/"])
        return try! TopicFilter(validating: prefix + inner)
    }

    mutating func options(shared: Bool) -> MQTTPacket.SubscriptionOptions {
        MQTTPacket.SubscriptionOptions(
            qos: pick(MQTTQoS.allCases), noLocal: !shared && chance(0.3), retainAsPublished: chance(0.3))
    }

    mutating func identifier() -> UInt32? { chance(0.5) ? UInt32(int(1...9)) : nil }

    mutating func client(of count: Int) -> ClientID { try! ClientID(validating: "c\(int(0...count - 1))") }
}

/// Every topic over the generator's alphabet with 1 to `maxLevels` levels (the universe the properties check).
func allTopics(maxLevels: Int) -> [TopicName] {
    var texts: [[String]] = RoutingGenerator.levels.map { [$0] }
    var result = texts
    for _ in 1..<maxLevels {
        texts = texts.flatMap { prefix in RoutingGenerator.levels.map { prefix + [$0] } }
        result += texts
    }
    return result.compactMap { try? TopicName(validating: $0.joined(separator: "/")) }
}

/// The distinct level paths the trie of these level lists needs (every non-empty prefix), as the test's count
/// of non-root nodes.
func distinctPrefixes(of levelLists: [[Substring]]) -> Int {
    var prefixes = Set<[String]>()
    for levels in levelLists {
        for length in 1...levels.count { prefixes.insert(levels.prefix(length).map(String.init)) }
    }
    return prefixes.count
}

func message(_ topic: TopicName, _ payload: String = "p", expiresAt: Timestamp? = nil) -> Message {
    Message(topic: topic, payload: ByteBuffer(string: payload), qos: .atLeastOnce, retain: true, expiresAt: expiresAt)
}

/// A delivery in a form that compares regardless of identifier order.
struct DeliveryKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    var client: String
    var qos: UInt8
    var identifiers: [UInt32]
    var retainAsPublished: Bool

    init(_ d: Delivery) {
        self.init(d.clientID.value, d.qos, d.subscriptionIdentifiers, d.retainAsPublished)
    }

    init(_ client: String, _ qos: MQTTQoS, _ identifiers: [UInt32] = [], _ rap: Bool = false) {
        self.client = client
        self.qos = qos.rawValue
        self.identifiers = identifiers.sorted()
        self.retainAsPublished = rap
    }

    static func < (l: DeliveryKey, r: DeliveryKey) -> Bool { l.description < r.description }
    var description: String { "\(client) q\(qos) ids\(identifiers) rap=\(retainAsPublished)" }
}

func keys(_ deliveries: [Delivery]) -> [DeliveryKey] { deliveries.map(DeliveryKey.init).sorted() }

/// The namespace of the routing suites, so that `swift test --filter Routing` selects them.
enum Routing {}
