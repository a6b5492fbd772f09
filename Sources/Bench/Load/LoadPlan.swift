import MQTTCore

/// Who publishes where and who subscribes to what, for one publish/subscribe scenario.
struct LoadPlan: Sendable {
    var scenario: String
    /// One topic per publisher; the publisher's index is its position.
    var publisherTopics: [TopicName]
    /// One filter per subscriber.
    var subscriberFilters: [TopicFilter]
    /// How many subscribers receive each publisher's messages (the plans keep this uniform).
    var subscribersPerPublisher: Int

    /// N publisher/subscriber pairs, each pair on its own topic `bench/pair/<i>`.
    static func pairs(_ count: Int) -> LoadPlan {
        let topics = (0..<count).map { TopicName(stringLiteral: "bench/pair/\($0)") }
        return LoadPlan(
            scenario: "pairs", publisherTopics: topics,
            subscriberFilters: topics.map { TopicFilter(stringLiteral: $0.value) }, subscribersPerPublisher: 1)
    }

    /// P publishers on `bench/fanin/<i>` to one subscriber of `bench/fanin/#`.
    static func fanIn(_ count: Int) -> LoadPlan {
        LoadPlan(
            scenario: "fanin", publisherTopics: (0..<count).map { TopicName(stringLiteral: "bench/fanin/\($0)") },
            subscriberFilters: ["bench/fanin/#"], subscribersPerPublisher: 1)
    }

    /// One publisher on `bench/fanout` to S subscribers of that topic.
    static func fanOut(_ count: Int) -> LoadPlan {
        LoadPlan(
            scenario: "fanout", publisherTopics: ["bench/fanout"],
            subscriberFilters: Array(repeating: "bench/fanout", count: count), subscribersPerPublisher: count)
    }
}
