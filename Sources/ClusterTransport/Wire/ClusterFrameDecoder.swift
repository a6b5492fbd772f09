import NIOCore

/// Splits a byte stream into `ClusterFrame`s. The declared length is checked against `maxFrameSize` as soon
/// as its 4 bytes arrive, before any of the body is buffered. Payloads are not decompressed here.
public struct ClusterFrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = ClusterFrame

    /// The largest accepted value of the length field (kind + flags + payload).
    public let maxFrameSize: Int

    public init(maxFrameSize: Int) {
        precondition(maxFrameSize >= 2, "maxFrameSize must leave room for kind and flags")
        self.maxFrameSize = maxFrameSize
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> ClusterFrame? {
        guard let declared = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        let length = Int(declared)
        guard length <= maxFrameSize else { throw ClusterFrameError.frameTooLarge(declared: length, max: maxFrameSize) }
        guard length >= 2 else { throw ClusterFrameError.frameTooShort(declared: length) }
        guard buffer.readableBytes >= 4 + length else { return nil }
        let flags = buffer.getInteger(at: buffer.readerIndex + 5, as: UInt8.self)!
        guard flags & ~ClusterFrame.compressedFlag == 0 else { throw ClusterFrameError.unknownFlags(flags) }
        buffer.moveReaderIndex(forwardBy: 4)
        let kind = FrameKind(rawValue: buffer.readInteger(as: UInt8.self)!)
        buffer.moveReaderIndex(forwardBy: 1)
        let payload = buffer.readSlice(length: length - 2)!
        return ClusterFrame(kind: kind, compressed: flags & ClusterFrame.compressedFlag != 0, payload: payload)
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ClusterFrame? {
        if let frame = try decode(buffer: &buffer) { return frame }
        guard buffer.readableBytes == 0 else { throw ClusterFrameError.truncated(buffered: buffer.readableBytes) }
        return nil
    }
}
