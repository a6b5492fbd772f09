import NIOCore

/// The `hello` payload:
/// `"STRL"`, `u16 major`, `u16 minor`, `u8 len` + node name, `u64 incarnation`, `u8 len` + listen host,
/// `u16 port`, `u8 role`, `u64 weight` (IEEE 754 bits), `u32 features`, 32-byte nonce.
/// All integers are big-endian. Trailing bytes are accepted only from a peer with a higher minor version
/// (fields a later minor version appends).
struct HandshakeHello: Sendable, Equatable {
    static let magic: [UInt8] = Array("STRL".utf8)
    /// 2: the broker's hot types travel in hand-written binary forms; 3: member records carry services.
    static let currentMajor: UInt16 = 3
    static let currentMinor: UInt16 = 0
    static let nonceSize = 32

    var major: UInt16 = currentMajor
    var minor: UInt16 = currentMinor
    var node: NodeID
    var listen: Endpoint
    var role: MemberRole
    var weight: Double
    var features: HandshakeFeatures
    var nonce: [UInt8]

    init(node: NodeID, listen: Endpoint, role: MemberRole, weight: Double, features: HandshakeFeatures, nonce: [UInt8])
    {
        self.node = node
        self.listen = listen
        self.role = role
        self.weight = weight
        self.features = features
        self.nonce = nonce
    }

    func encode(into buffer: inout ByteBuffer) {
        precondition(nonce.count == Self.nonceSize, "hello nonce must be 32 bytes")
        buffer.writeBytes(Self.magic)
        buffer.writeInteger(major)
        buffer.writeInteger(minor)
        let name = node.name.rawValue.utf8
        buffer.writeInteger(UInt8(name.count))  // NodeName: 1...64 bytes
        buffer.writeBytes(name)
        buffer.writeInteger(node.incarnation.rawValue)
        let host = listen.host.utf8
        buffer.writeInteger(UInt8(host.count))  // Endpoint: 1...255 bytes
        buffer.writeBytes(host)
        buffer.writeInteger(UInt16(listen.port))
        buffer.writeInteger(role.rawValue)
        buffer.writeInteger(weight.bitPattern)
        buffer.writeInteger(features.rawValue)
        buffer.writeBytes(nonce)
    }

    var encoded: ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 128)
        encode(into: &buffer)
        return buffer
    }

    /// Decodes a peer's hello. Magic is checked first, then the major version, then the rest.
    static func decode(_ payload: ByteBuffer) throws(HandshakeFailure) -> HandshakeHello {
        var buffer = payload
        guard let magic = buffer.readBytes(length: magic.count) else { throw .malformed(.hello) }
        guard magic == Self.magic else { throw .badMagic }
        guard let major = buffer.readInteger(as: UInt16.self), let minor = buffer.readInteger(as: UInt16.self) else {
            throw .malformed(.hello)
        }
        guard major == currentMajor else { throw .incompatibleVersion(major: major, minor: minor) }

        guard let nameLength = buffer.readInteger(as: UInt8.self),
            let nameBytes = buffer.readBytes(length: Int(nameLength)),
            let incarnation = buffer.readInteger(as: UInt64.self),
            let hostLength = buffer.readInteger(as: UInt8.self),
            let hostBytes = buffer.readBytes(length: Int(hostLength)),
            let port = buffer.readInteger(as: UInt16.self),
            let roleByte = buffer.readInteger(as: UInt8.self),
            let weightBits = buffer.readInteger(as: UInt64.self),
            let features = buffer.readInteger(as: UInt32.self),
            let nonce = buffer.readBytes(length: nonceSize)
        else { throw .malformed(.hello) }
        guard buffer.readableBytes == 0 || minor > currentMinor else { throw .malformed(.hello) }

        guard let nameText = String(validating: nameBytes, as: UTF8.self), let name = NodeName(nameText) else {
            throw .invalidNodeName
        }
        guard let hostText = String(validating: hostBytes, as: UTF8.self),
            let listen = Endpoint(host: hostText, port: Int(port)),
            let role = MemberRole(rawValue: roleByte)
        else { throw .malformed(.hello) }
        let weight = Double(bitPattern: weightBits)
        // The same bound as a gossiped `Member`, so a peer cannot announce a weight its own gossip would not carry.
        guard weight.isFinite, weight >= 0, weight <= Member.maximumWeight else { throw .malformed(.hello) }

        var hello = HandshakeHello(
            node: NodeID(name: name, incarnation: Incarnation(rawValue: incarnation)), listen: listen, role: role,
            weight: weight, features: HandshakeFeatures(rawValue: features), nonce: nonce)
        hello.major = major
        hello.minor = minor
        return hello
    }
}
