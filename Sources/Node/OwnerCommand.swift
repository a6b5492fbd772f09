import ArgumentParser
import ClusterTransport

/// `Node owner`: where a client's session lives, for a given set of broker nodes: the preference list of
/// `session/<clientID>` by the cluster's ownership function (the first node is the primary, the second the
/// replica). For operators ("which node has client X?") and for scripts that need a client owned by a given node.
struct OwnerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "owner",
        abstract: "Print the nodes that hold a client's session, primary first.",
        discussion: "Example: Node owner --node n1@10.0.0.1 --node n2@10.0.0.2:2 sensor-17")

    @Option(name: .customLong("node"), help: "NAME or NAME:WEIGHT of an up broker node; repeatable.")
    var nodes: [String]

    @Argument(help: "The client ID.") var clientID: String

    func validate() throws {
        _ = try candidates()
    }

    func candidates() throws -> [OwnershipCandidate] {
        guard !nodes.isEmpty else { throw ValidationError("--node: give at least one node") }
        return try nodes.map { text in
            let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
            guard let name = NodeName(parts[0]) else { throw ValidationError("--node: not a node name: \(parts[0])") }
            let weight = parts.count == 2 ? Double(parts[1]) : 1
            guard let weight, weight > 0, weight.isFinite else { throw ValidationError("--node: bad weight in \(text)") }
            return OwnershipCandidate(name: name, weight: weight)
        }
    }

    func run() throws {
        let list = Ownership.preferenceList(for: "session/\(clientID)", among: try candidates())
        print(list.map(\.rawValue).joined(separator: " "))
    }
}
