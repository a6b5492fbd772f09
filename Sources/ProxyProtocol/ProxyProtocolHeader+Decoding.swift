import NIOCore

extension ProxyProtocolHeader {
    /// Reads a header from the front of `buffer`.
    ///
    /// Returns nil, consuming nothing, while the header is incomplete; returns the header and consumes exactly its
    /// bytes (TLVs included, skipped) once it is whole, leaving what followed it. Throws as soon as the bytes at
    /// hand prove the header bad: a signature byte that differs, a version, command or family byte the spec does
    /// not allow, or a length below what the family needs or above `maximumLength` (known from the first 16 bytes,
    /// so a peer cannot make the receiver buffer more than `fixedSize + maximumLength`).
    public static func decode(
        _ buffer: inout ByteBuffer, maximumLength: Int = defaultMaximumLength
    ) throws(ProxyProtocolError) -> ProxyProtocolHeader? {
        let start = buffer.readerIndex
        let available = buffer.readableBytes
        for (offset, expected) in signature.prefix(available).enumerated()
        where buffer.getInteger(at: start + offset, as: UInt8.self) != expected {
            throw .badSignature
        }
        guard available > 12, let versionCommand = buffer.getInteger(at: start + 12, as: UInt8.self) else {
            return nil
        }
        guard versionCommand >> 4 == 2 else { throw .unsupportedVersion(versionCommand >> 4) }
        let command: Command
        switch versionCommand & 0x0F {
        case 0: command = .local
        case 1: command = .proxy
        default: throw .unsupportedCommand(versionCommand & 0x0F)
        }
        guard available > 13, let family = buffer.getInteger(at: start + 13, as: UInt8.self) else { return nil }
        // LOCAL: "the family is ignored", whatever it says; PROXY: only the combinations the spec defines.
        let needed = command == .local ? 0 : try addressLength(family: family)
        guard available >= fixedSize, let rawLength = buffer.getInteger(at: start + 14, as: UInt16.self) else {
            return nil
        }
        let length = Int(rawLength)
        guard length <= maximumLength else { throw .lengthOverLimit(length: length, limit: maximumLength) }
        guard length >= needed else { throw .lengthTooShort(family: family, length: length) }
        guard available >= fixedSize + length else { return nil }

        var header = ProxyProtocolHeader(command: command)
        if command == .proxy, needed > 0 {
            let size = needed == 12 ? 4 : 16
            let addresses = start + fixedSize
            guard let sourcePort = buffer.getInteger(at: addresses + 2 * size, as: UInt16.self),
                let destinationPort = buffer.getInteger(at: addresses + 2 * size + 2, as: UInt16.self),
                let sourceBytes = buffer.getSlice(at: addresses, length: size),
                let destinationBytes = buffer.getSlice(at: addresses + size, length: size),
                let source = try? SocketAddress(packedIPAddress: sourceBytes, port: Int(sourcePort)),
                let destination = try? SocketAddress(packedIPAddress: destinationBytes, port: Int(destinationPort))
            else {
                // Unreachable: the length was checked and 4 or 16 bytes always make an address.
                throw .lengthTooShort(family: family, length: length)
            }
            header.source = source
            header.destination = destination
        }
        buffer.moveReaderIndex(forwardBy: fixedSize + length)
        return header
    }

    /// The address block a PROXY header of `family` needs: 12 (TCP/IPv4), 36 (TCP/IPv6), or 0 for the defined
    /// combinations read without addresses; throws for any other byte.
    static func addressLength(family: UInt8) throws(ProxyProtocolError) -> Int {
        switch family {
        case tcp4: 12
        case tcp6: 36
        case _ where carriedWithoutAddresses.contains(family): 0
        default: throw .unsupportedFamily(family)
        }
    }
}
