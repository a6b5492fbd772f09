/// The address of a distributed actor in the cluster. There are two kinds:
///
/// - **Node-owned**: a node (name and incarnation) and a path. Per-node singletons (`/topics/3`), system actors and
///   ephemeral actors (`/e/17`) live at one node's boot; a reference to a dead incarnation fails fast.
/// - **Keyed**: a key such as `session/<clientID>` and no node. Each call finds the key's owner through the
///   ownership function at call time, so the actor follows its key when membership changes.
public struct ClusterActorID: Hashable, Sendable, Codable, CustomStringConvertible {
    public enum Address: Hashable, Sendable {
        case owned(NodeID, ActorPath)
        case keyed(ActorKey)
    }

    public let address: Address

    public init(node: NodeID, path: ActorPath) { address = .owned(node, path) }
    public init(key: ActorKey) { address = .keyed(key) }

    /// The node of a node-owned ID; nil for a keyed one.
    public var node: NodeID? {
        if case .owned(let node, _) = address { node } else { nil }
    }

    public var key: ActorKey? {
        if case .keyed(let key) = address { key } else { nil }
    }

    public var description: String {
        switch address {
        case .owned(let node, let path): "\(node)\(path)"
        case .keyed(let key): "keyed:\(key)"
        }
    }

    private enum CodingKeys: String, CodingKey { case node, path, key }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let key = try container.decodeIfPresent(ActorKey.self, forKey: .key) {
            address = .keyed(key)
        } else {
            address = .owned(
                try container.decode(NodeID.self, forKey: .node), try container.decode(ActorPath.self, forKey: .path))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch address {
        case .owned(let node, let path):
            try container.encode(node, forKey: .node)
            try container.encode(path, forKey: .path)
        case .keyed(let key):
            try container.encode(key, forKey: .key)
        }
    }
}

/// The path of a node-owned actor: `/` followed by 1 to 255 printable ASCII characters.
public struct ActorPath: ValidatedStringIdentifier {
    public let rawValue: String

    public init?(_ rawValue: String) {
        guard rawValue.hasPrefix("/"), (2...256).contains(rawValue.utf8.count),
            rawValue.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
        else { return nil }
        self.rawValue = rawValue
    }
}

/// The key of a keyed actor: `<kind>/<name>`, for example `session/sensor-17`. The kind (before the first `/`)
/// selects the factory that activates the actor on its owner. At most 1024 UTF-8 bytes, no U+0000.
public struct ActorKey: ValidatedStringIdentifier {
    public let rawValue: String

    public init?(_ rawValue: String) {
        guard rawValue.utf8.count <= 1024, !rawValue.utf8.contains(0), let slash = rawValue.firstIndex(of: "/"),
            slash != rawValue.startIndex
        else { return nil }
        self.rawValue = rawValue
    }

    public init?(kind: String, name: String) { self.init(kind + "/" + name) }

    /// The part before the first `/`.
    public var kind: Substring { rawValue[..<(rawValue.firstIndex(of: "/") ?? rawValue.endIndex)] }
}
