/// Why a PROXY protocol v2 header was refused. The connection is then dropped: the spec allows no recovery.
public enum ProxyProtocolError: Error, Hashable, Sendable {
    /// The first bytes differ from the 12-byte v2 signature (decided at the first byte that differs).
    case badSignature
    /// The high nibble of the 13th byte is not 2.
    case unsupportedVersion(UInt8)
    /// The low nibble of the 13th byte is neither 0 (LOCAL) nor 1 (PROXY).
    case unsupportedCommand(UInt8)
    /// The 14th byte is not one of the family/transport combinations the spec defines.
    case unsupportedFamily(UInt8)
    /// The length is shorter than the addresses of the family (12 for TCP over IPv4, 36 for TCP over IPv6).
    case lengthTooShort(family: UInt8, length: Int)
    /// The length is over the receiver's cap; refused before anything past the first 16 bytes is buffered.
    case lengthOverLimit(length: Int, limit: Int)
}
