/// A client-facing service a member offers besides its cluster listener, such as a broker's MQTT, WebSocket or
/// HTTP port: a name and a port, reached at the member's endpoint host. Gossiped with the member's record, so a
/// gateway member learns where to send clients from the membership alone. ClusterTransport gives the names no
/// meaning; the broker and the gateway agree on them.
public struct MemberService: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    /// 1-32 of a-z, 0-9 and `-`.
    public let name: String
    /// 1...65535.
    public let port: Int

    /// The most services one record may carry (a record from a peer with more is refused).
    public static let maximumCount = 16

    public init?(name: String, port: Int) {
        guard Self.isValid(name: name), (1...65_535).contains(port) else { return nil }
        self.name = name
        self.port = port
    }

    static func isValid(name: String) -> Bool {
        (1...32).contains(name.utf8.count)
            && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
    }

    /// `services` sorted by name with one entry per name (the last given wins), or nil when there are more than
    /// `maximumCount`.
    public static func normalised(_ services: [MemberService]) -> [MemberService]? {
        var byName: [String: MemberService] = [:]
        for service in services { byName[service.name] = service }
        guard byName.count <= maximumCount else { return nil }
        return byName.values.sorted()
    }

    private enum CodingKeys: String, CodingKey { case name, port }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let name = try container.decode(String.self, forKey: .name)
        let port = try container.decode(Int.self, forKey: .port)
        guard let service = MemberService(name: name, port: port) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "invalid member service"))
        }
        self = service
    }

    public static func < (lhs: MemberService, rhs: MemberService) -> Bool {
        lhs.name != rhs.name ? lhs.name < rhs.name : lhs.port < rhs.port
    }

    public var description: String { "\(name):\(port)" }
}

extension Array where Element == MemberService {
    /// The port of the service named `name`, if offered.
    public func port(of name: String) -> Int? { first { $0.name == name }?.port }
}
