import NIOCore

/// The header at the start of every benchmark payload; the rest of the payload is padding.
///
///     0      8           12          16
///     | sent | publisher | sequence  | padding ... |
///
/// `sent` is CLOCK_MONOTONIC in nanoseconds (the same clock in every process on the machine), `publisher` the
/// publisher's index in the run and `sequence` its per-publisher message number, starting at 0. Big-endian.
struct BenchPayload: Equatable {
    static let headerSize = 16

    var sentNanos: UInt64
    var publisher: UInt32
    var sequence: UInt32

    /// Writes the header and `size - headerSize` bytes of padding (at least the header).
    func write(into buffer: inout ByteBuffer, size: Int) {
        buffer.writeMultipleIntegers(sentNanos, publisher, sequence)
        let padding = size - Self.headerSize
        if padding > 0 { buffer.writeRepeatingByte(0x2E, count: padding) }
    }

    /// Reads the header without moving the reader index; nil when the payload is too short.
    static func read(from buffer: ByteBuffer) -> BenchPayload? {
        guard let (sent, publisher, sequence) = buffer.getMultipleIntegers(
            at: buffer.readerIndex, as: (UInt64, UInt32, UInt32).self)
        else { return nil }
        return BenchPayload(sentNanos: sent, publisher: publisher, sequence: sequence)
    }
}
