import NIOCore

/// One cluster frame: `u32 length` (big-endian, counts everything after it), `u8 kind`, `u8 flags`
/// (bit 0: the payload is `u32 originalSize` + one lz4 block), payload.
public struct ClusterFrame: Sendable, Equatable {
    /// Flags bit 0: the payload is lz4-compressed.
    static let compressedFlag: UInt8 = 0x01
    /// Bytes before the payload: length, kind, flags.
    public static let headerSize = 6
    /// Largest value the length field can carry.
    static let maxLength = Int(UInt32.max)

    public var kind: FrameKind
    /// As received (flags bit 0); decompress with `decompressed(maxSize:)`.
    public var compressed: Bool
    public var payload: ByteBuffer

    /// A frame with an uncompressed payload.
    public init(kind: FrameKind, payload: ByteBuffer) {
        self.init(kind: kind, compressed: false, payload: payload)
    }

    /// A frame whose payload may already be in compressed form (`u32 originalSize` + lz4 block).
    public init(kind: FrameKind, compressed: Bool, payload: ByteBuffer) {
        self.kind = kind
        self.compressed = compressed
        self.payload = payload
    }

    /// Appends the frame to `buffer`; compresses the payload when `compressAbove` is non-nil, the payload is
    /// larger than it, and compression actually makes it smaller. A frame that is already compressed is
    /// written as it is. The frame must fit the 32-bit length field.
    public func encode(into buffer: inout ByteBuffer, compressAbove: Int?) {
        let payloadSize = payload.readableBytes
        precondition(payloadSize <= Self.maxLength - 2, "cluster frame payload too large for the length field")
        if !compressed, let threshold = compressAbove, payloadSize > threshold, payloadSize > 4,
            payloadSize <= LZ4.maxInputSize
        {
            let start = buffer.writerIndex
            buffer.writeInteger(UInt32(0))
            buffer.writeInteger(kind.rawValue)
            buffer.writeInteger(Self.compressedFlag)
            buffer.writeInteger(UInt32(payloadSize))
            // Worth it only when `originalSize` + block is strictly smaller than the plain payload.
            if let blockSize = LZ4.compress(payload, appendingTo: &buffer, limit: payloadSize - 4) {
                buffer.setInteger(UInt32(2 + 4 + blockSize), at: start)
                return
            }
            buffer.moveWriterIndex(to: start)
        }
        buffer.reserveCapacity(minimumWritableBytes: Self.headerSize + payloadSize)
        buffer.writeInteger(UInt32(2 + payloadSize))
        buffer.writeInteger(kind.rawValue)
        buffer.writeInteger(compressed ? Self.compressedFlag : 0)
        buffer.writeImmutableBuffer(payload)
    }

    /// The frame with its payload decompressed (self when not compressed). Throws when the declared original
    /// size is above `maxSize` or the block is corrupt.
    public func decompressed(maxSize: Int) throws(ClusterFrameError) -> ClusterFrame {
        guard compressed else { return self }
        var block = payload
        guard let declared = block.readInteger(as: UInt32.self) else { throw .corruptCompression }
        let originalSize = Int(declared)
        guard originalSize <= maxSize else { throw .decompressedTooLarge(declared: originalSize, max: maxSize) }
        let plain = try LZ4.decompress(block, originalSize: originalSize)
        return ClusterFrame(kind: kind, compressed: false, payload: plain)
    }
}
