/// A host and port to reach a node's cluster listener. Parses `host:port` and `[v6-address]:port`.
public struct Endpoint: Hashable, Sendable, Codable, CustomStringConvertible {
    public let host: String
    public let port: Int

    public init?(host: String, port: Int) {
        guard !host.isEmpty, host.utf8.count <= 255, (1...65535).contains(port) else { return nil }
        self.host = host
        self.port = port
    }

    public init?(parsing text: String) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = Int(portText) else { return nil }
        self.init(host: String(host), port: port)
    }

    private enum CodingKeys: String, CodingKey { case host, port }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let host = try container.decode(String.self, forKey: .host)
        let port = try container.decode(Int.self, forKey: .port)
        guard let endpoint = Endpoint(host: host, port: port) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "invalid endpoint"))
        }
        self = endpoint
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// What a member does in the cluster: a broker hosts keyed actors and owns keys; a gateway only watches.
public enum MemberRole: UInt8, Sendable, Codable, Hashable, CustomStringConvertible {
    case broker = 1
    case gateway = 2

    public var description: String { self == .broker ? "broker" : "gateway" }
}

/// A member's life cycle. Within one incarnation a status only moves forward (joining → up → leaving → down →
/// removed), except that a member that was wrongly declared down can refute it (see `MembershipState`).
public enum MemberStatus: UInt8, Sendable, Codable, Hashable, Comparable, CustomStringConvertible {
    case joining = 1
    case up = 2
    case leaving = 3
    case down = 4
    case removed = 5

    public static func < (lhs: MemberStatus, rhs: MemberStatus) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String {
        switch self {
        case .joining: "joining"
        case .up: "up"
        case .leaving: "leaving"
        case .down: "down"
        case .removed: "removed"
        }
    }
}
