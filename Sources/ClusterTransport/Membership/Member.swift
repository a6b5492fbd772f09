/// One member's record as gossiped between nodes. Only the member itself changes its record, bumping `version`,
/// except that others may mark it down (see `MembershipState` for the merge rules).
public struct Member: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Name and incarnation (one boot).
    public var id: NodeID
    /// The member's cluster listener.
    public var endpoint: Endpoint
    public var role: MemberRole
    /// Relative capacity for key ownership: finite, >= 0 and <= `maximumWeight`; 0 never owns keys.
    public var weight: Double
    public var status: MemberStatus
    /// Client-facing services (MQTT, WebSocket, HTTP ports…), sorted by name, at most `MemberService.maximumCount`.
    public var services: [MemberService]
    /// Bumped on every change of this record.
    public var version: UInt64

    /// A member record. An invalid weight (not finite, negative or above `maximumWeight`) is replaced by 1.
    public init(
        id: NodeID,
        endpoint: Endpoint,
        role: MemberRole = .broker,
        weight: Double = 1,
        status: MemberStatus = .joining,
        version: UInt64 = 1,
        services: [MemberService] = []
    ) {
        self.id = id
        self.endpoint = endpoint
        self.role = role
        self.weight = Member.isValidWeight(weight) ? weight : 1
        self.status = status
        self.version = version
        self.services = MemberService.normalised(services) ?? []
    }

    /// The largest accepted weight: keeps scores and shares well inside `Double`'s range.
    public static let maximumWeight: Double = 1_000_000

    static func isValidWeight(_ weight: Double) -> Bool {
        weight.isFinite && weight >= 0 && weight <= maximumWeight
    }

    private enum CodingKeys: String, CodingKey {
        case id, endpoint, role, weight, status, version, services
    }

    /// Decodes a record (fields in declaration order, for sequential formats), rejecting an invalid weight;
    /// everything else is validated by its own type.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let id = try container.decode(NodeID.self, forKey: .id)
        let endpoint = try container.decode(Endpoint.self, forKey: .endpoint)
        let role = try container.decode(MemberRole.self, forKey: .role)
        let weight = try container.decode(Double.self, forKey: .weight)
        guard Member.isValidWeight(weight) else {
            throw DecodingError.dataCorruptedError(
                forKey: .weight, in: container, debugDescription: "member weight must be finite, >= 0 and <= 1e6")
        }
        let status = try container.decode(MemberStatus.self, forKey: .status)
        let version = try container.decode(UInt64.self, forKey: .version)
        let services = try container.decode([MemberService].self, forKey: .services)
        guard let normalised = MemberService.normalised(services), normalised == services else {
            throw DecodingError.dataCorruptedError(
                forKey: .services, in: container,
                debugDescription: "member services must be sorted, unique and at most \(MemberService.maximumCount)")
        }
        self.init(
            id: id, endpoint: endpoint, role: role, weight: weight, status: status, version: version,
            services: services)
    }

    /// Encodes the fields in declaration order.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(endpoint, forKey: .endpoint)
        try container.encode(role, forKey: .role)
        try container.encode(weight, forKey: .weight)
        try container.encode(status, forKey: .status)
        try container.encode(version, forKey: .version)
        try container.encode(services, forKey: .services)
    }

    public var description: String {
        let offered = services.isEmpty ? "" : " " + services.map(\.description).joined(separator: ",")
        return "\(id)@\(endpoint) \(role) \(status) v\(version) w\(weight)\(offered)"
    }

    /// Whether this record wins over `other`, a record of the same incarnation: the higher version, then the more
    /// severe status, then (only for records that should not exist: same version and status, different contents)
    /// a fixed order of the remaining fields, so that the choice never depends on arrival order.
    func supersedes(_ other: Member) -> Bool {
        if version != other.version { return version > other.version }
        if status != other.status { return status > other.status }
        if role != other.role { return role.rawValue > other.role.rawValue }
        if weight != other.weight { return weight > other.weight }
        if endpoint.host != other.endpoint.host { return endpoint.host > other.endpoint.host }
        if endpoint.port != other.endpoint.port { return endpoint.port > other.endpoint.port }
        return services.lexicographicallyPrecedes(other.services, by: >)
    }
}
