import ClusterTransport
import Testing

@testable import BrokerActors

@Suite("node status")
struct NodeStatusTests {
    @Test("200 only when up, not partitioned and not draining", arguments: [
        (MemberStatus.joining, false, false, NodeStatus.State.starting),
        (.up, false, false, .running),
        (.up, true, false, .partitioned),
        (.up, false, true, .draining),
        (.up, true, true, .draining),
        (.leaving, false, false, .leaving),
        (.down, false, false, .leaving),
    ])
    func states(member: MemberStatus, partitioned: Bool, draining: Bool, expected: NodeStatus.State) {
        let status = NodeStatus(node: "n1@h", memberStatus: member, isPartitioned: partitioned, isDraining: draining)
        #expect(status.state == expected)
        #expect(status.httpStatus == (expected == .running ? 200 : 503))
    }

    @Test("the text is EMQX's when running")
    func text() {
        #expect(NodeStatus(node: "n1@h", state: .running).text == "Node n1@h is started\nstarling is running\n")
        #expect(NodeStatus(node: "n1@h", state: .draining).text.hasPrefix("Node n1@h is draining\n"))
    }
}
