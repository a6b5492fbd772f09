import Foundation
import MQTTCore
import NIOCore
import Testing

@testable import BrokerActors

/// `SessionState.isConsistent`: states reached through the transitions are consistent; a decoded state whose fields
/// contradict each other (as a corrupt or crafted snapshot could) is not, so it is refused before use.
@Suite("SessionState consistency")
struct SessionStateConsistencyTests {
    private func busyState() -> SessionState {
        var state = SessionState(clientID: "c1", expiryInterval: 60, queueCapacity: 10)
        let now = Timestamp(milliseconds: 1_000)
        _ = state.attach(receiveMaximum: 2, now: now)
        let delivery = Delivery(clientID: "c1", qos: .atLeastOnce)
        let items = (0..<5).map { index in
            SessionDelivery(
                message: Message(topic: "t", payload: ByteBuffer(string: "\(index)"), qos: .atLeastOnce), delivery: delivery)
        }
        _ = state.deliver(items, now: now)
        _ = state.pubAck(PacketID(rawValue: 1)!, now: now)
        state.subscriptions["a/+"] = StoredSubscription(filter: "a/+", options: .init(qos: .atLeastOnce), identifier: nil)
        return state
    }

    /// Re-decodes `state` after `edit` changed its JSON form.
    private func edited(_ state: SessionState, _ edit: (inout [String: Any]) -> Void) throws -> SessionState {
        var object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(state)) as? [String: Any])
        edit(&object)
        return try JSONDecoder().decode(SessionState.self, from: JSONSerialization.data(withJSONObject: object))
    }

    @Test func statesFromTransitionsAreConsistent() throws {
        let state = busyState()
        #expect(state.isConsistent)
        #expect(try edited(state) { _ in }.isConsistent)
    }

    @Test(arguments: ["head beyond the order", "receive maximum 0", "subscription under another key", "queue head beyond its items"])
    func contradictoryFieldsAreRefused(_ corruption: String) throws {
        let state = try edited(busyState()) { object in
            switch corruption {
            case "head beyond the order": object["inflightOrderHead"] = 99
            case "receive maximum 0": object["receiveMaximum"] = 0
            case "subscription under another key":
                var subscriptions = object["subscriptions"] as? [String: Any] ?? [:]
                subscriptions["b/#"] = subscriptions["a/+"]
                object["subscriptions"] = subscriptions
            default:
                var queue = object["queue"] as? [String: Any] ?? [:]
                queue["head"] = 1_000
                object["queue"] = queue
            }
        }
        #expect(!state.isConsistent)
    }
}
