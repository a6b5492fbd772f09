import CLZ4
import NIOCore

/// lz4 block compression over `ByteBuffer` (liblz4's `LZ4_compress_default` / `LZ4_decompress_safe`).
public enum LZ4 {
    /// The largest input liblz4 accepts (`LZ4_MAX_INPUT_SIZE`).
    public static let maxInputSize = 0x7E00_0000

    /// lz4 cannot expand more than this: each input byte yields at most 255 output bytes.
    static let maxExpansion = 255

    /// The worst-case size of a compressed block for `size` input bytes, or nil when `size` is too large.
    public static func compressBound(_ size: Int) -> Int? {
        guard (0...maxInputSize).contains(size) else { return nil }
        return Int(LZ4_compressBound(Int32(size)))
    }

    /// Compresses the readable bytes of `source` as one lz4 block appended to `destination`. Returns the
    /// number of bytes written, or nil (and leaves `destination` unchanged) when the input is too large or
    /// the block would not be smaller than `limit` bytes.
    @discardableResult
    public static func compress(_ source: ByteBuffer, appendingTo destination: inout ByteBuffer, limit: Int? = nil)
        -> Int?
    {
        let sourceSize = source.readableBytes
        guard let bound = compressBound(sourceSize), bound > 0 else { return nil }
        let capacity = min(bound, limit.map { Swift.max($0 - 1, 0) } ?? bound)
        guard capacity > 0 else { return nil }
        let start = destination.writerIndex
        let written = source.withUnsafeReadableBytes { input in
            destination.writeWithUnsafeMutableBytes(minimumWritableBytes: capacity) { output in
                guard let src = input.baseAddress, let dst = output.baseAddress else { return 0 }
                let result = LZ4_compress_default(
                    src.assumingMemoryBound(to: CChar.self), dst.assumingMemoryBound(to: CChar.self),
                    Int32(sourceSize), Int32(capacity))
                return Int(Swift.max(result, 0))
            }
        }
        guard written > 0 else {
            destination.moveWriterIndex(to: start)
            return nil
        }
        return written
    }

    /// Compresses the readable bytes of `source` into a new buffer holding one lz4 block.
    public static func compress(_ source: ByteBuffer, allocator: ByteBufferAllocator = ByteBufferAllocator())
        -> ByteBuffer?
    {
        var output = allocator.buffer(capacity: compressBound(source.readableBytes) ?? 0)
        return compress(source, appendingTo: &output) == nil ? nil : output
    }

    /// Decompresses one lz4 block that must expand to exactly `originalSize` bytes. The caller bounds
    /// `originalSize`; blocks that could not possibly expand that far are rejected before allocating.
    public static func decompress(
        _ block: ByteBuffer, originalSize: Int, allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) throws(ClusterFrameError) -> ByteBuffer {
        let blockSize = block.readableBytes
        guard originalSize >= 0, originalSize <= maxInputSize, blockSize > 0, blockSize <= Int(Int32.max),
            originalSize <= blockSize * maxExpansion
        else { throw .corruptCompression }
        var output = allocator.buffer(capacity: originalSize)
        var exact = false
        block.withUnsafeReadableBytes { input in
            _ = output.writeWithUnsafeMutableBytes(minimumWritableBytes: Swift.max(originalSize, 1)) { out in
                guard let src = input.baseAddress, let dst = out.baseAddress else { return 0 }
                let result = LZ4_decompress_safe(
                    src.assumingMemoryBound(to: CChar.self), dst.assumingMemoryBound(to: CChar.self),
                    Int32(blockSize), Int32(originalSize))
                // A negative result is a corrupt block; never move the writer index by it.
                exact = result == Int32(originalSize)
                return exact ? originalSize : 0
            }
        }
        guard exact, output.readableBytes == originalSize else { throw .corruptCompression }
        return output
    }
}
