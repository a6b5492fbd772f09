import Distributed
import MQTTCore

/// One shard of the retained messages: a topic's retained message lives in shard `hash(topic) % R`.
public distributed actor RetainedStoreActor {
    public typealias ActorSystem = BrokerActorSystem

    private var retained = RetainedIndex()
    private let clock: any BrokerClock

    public init(clock: any BrokerClock, actorSystem: ActorSystem) {
        self.actorSystem = actorSystem
        self.clock = clock
    }

    /// Stores (or, with an empty payload, clears) the retained message of its topic.
    public distributed func set(_ message: Message) {
        retained.set(message)
    }

    public distributed func match(_ filter: TopicFilter) -> [Message] {
        retained.match(filter, now: clock.now())
    }

    public distributed func count() -> Int { retained.count }

    public distributed func removeExpired() -> Int { retained.removeExpired(now: clock.now()) }
}
