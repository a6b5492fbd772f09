import ClusterTransport
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The error of a data-directory file operation, with the path and the system's reason.
public struct DurableStoreError: Error, CustomStringConvertible {
    public var path: String
    public var reason: String

    public var description: String { "\(path): \(reason)" }

    static func errno(_ path: String, _ operation: String) -> DurableStoreError {
        DurableStoreError(path: path, reason: "\(operation) failed: \(String(cString: strerror(Glibc.errno)))")
    }
}

/// An append-only file of records, each framed as `u32 length, u64 checksum (xxHash64), payload` with the payload
/// in the cluster's binary coding. Appends are queued synchronously and written by one job at a time on NIO's
/// blocking-IO thread pool, every queued record in one `write` and one `fdatasync` (group commit).
final class DurableLog: Sendable {
    private struct State {
        var pending = ByteBuffer()
        var writing = false
        var queued: UInt64 = 0
        var written: UInt64 = 0
        var waiters: [(UInt64, CheckedContinuation<Void, Never>)] = []
        var failed: DurableStoreError?
        var bytes: Int = 0
    }

    let path: String
    private let descriptor: Int32
    private let state = Mutex(State())
    /// False for a file written in one go with `syncNow` (a snapshot): appends then only queue.
    private let writesInBackground: Bool

    init(path: String, writesInBackground: Bool = true) throws {
        self.path = path
        self.writesInBackground = writesInBackground
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DurableStoreError.errno(path, "open") }
        self.descriptor = fd
        var info = stat()
        if fstat(fd, &info) == 0 { state.withLock { $0.bytes = Int(info.st_size) } }
    }

    deinit { close(descriptor) }

    /// Bytes in the file, written or queued.
    var size: Int { state.withLock { $0.bytes + $0.pending.readableBytes } }

    /// The first write error, if any (appends after it are dropped).
    var failure: DurableStoreError? { state.withLock { $0.failed } }

    /// Queues a record; it reaches the disk with the next batch.
    func append(_ record: DurableRecord) {
        var payload = ByteBuffer()
        guard (try? BinaryEncoder().encode(record, into: &payload)) != nil else { return }
        let checksum = StableHasher.hash(payload.readableBytesView)
        let start = state.withLock { s -> Bool in
            guard s.failed == nil else { return false }
            s.pending.writeInteger(UInt32(payload.readableBytes))
            s.pending.writeInteger(checksum)
            s.pending.writeBuffer(&payload)
            s.queued += 1
            guard writesInBackground, !s.writing else { return false }
            s.writing = true
            return true
        }
        if start { scheduleWrite() }
    }

    /// Writes and syncs everything queued, on the calling thread (for files written before the node serves).
    func syncNow() throws {
        let batch = state.withLock { s -> ByteBuffer in
            let batch = s.pending
            s.pending = ByteBuffer()
            return batch
        }
        if let failure = writeAndSync(batch) { throw failure }
    }

    /// Writes all of `batch` and syncs the file's data; returns the error, if any.
    private func writeAndSync(_ batch: ByteBuffer) -> DurableStoreError? {
        batch.withUnsafeReadableBytes { bytes -> DurableStoreError? in
            var offset = 0
            while offset < bytes.count {
                let n = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 {
                    if Glibc.errno == EINTR { continue }
                    return .errno(path, "write")
                }
                offset += n
            }
            return fdatasync(descriptor) == 0 ? nil : .errno(path, "fdatasync")
        }
    }

    /// Returns once everything queued so far is on disk (or failed).
    func flush() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { s -> Bool in
                if s.written >= s.queued || s.failed != nil { return true }
                s.waiters.append((s.queued, continuation))
                return false
            }
            if done { continuation.resume() }
        }
    }

    private func scheduleWrite() {
        NIOThreadPool.singleton.submit { [self] _ in writeBatches() }
    }

    /// Runs on the thread pool: writes and syncs batches until nothing is pending.
    private func writeBatches() {
        while true {
            let (batch, upTo) = state.withLock { s -> (ByteBuffer, UInt64) in
                let batch = s.pending
                s.pending = ByteBuffer()
                if batch.readableBytes == 0 { s.writing = false }
                return (batch, s.queued)
            }
            guard batch.readableBytes > 0 else { return }
            let error = writeAndSync(batch)
            let ready = state.withLock { s in
                s.written = upTo
                s.bytes += batch.readableBytes
                if let error, s.failed == nil { s.failed = error }
                let ready = s.waiters.filter { $0.0 <= upTo || s.failed != nil }
                s.waiters.removeAll { $0.0 <= upTo || s.failed != nil }
                return ready.map(\.1)
            }
            for waiter in ready { waiter.resume() }
        }
    }

    /// Reads every intact record of a file. A torn or corrupt tail (a crash in the middle of a write) ends the
    /// read: the records before it are returned, and the damage is reported in `truncated`.
    static func read(path: String) throws -> (records: [DurableRecord], truncated: Bool) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if Glibc.errno == ENOENT { return ([], false) }
            throw DurableStoreError.errno(path, "open")
        }
        defer { close(fd) }
        var buffer = ByteBuffer()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if Glibc.errno == EINTR { continue }
                throw DurableStoreError.errno(path, "read")
            }
            if n == 0 { break }
            buffer.writeBytes(chunk[0..<n])
        }
        var records: [DurableRecord] = []
        while buffer.readableBytes > 0 {
            guard let length = buffer.readInteger(as: UInt32.self), let checksum = buffer.readInteger(as: UInt64.self),
                var payload = buffer.readSlice(length: Int(length)),
                StableHasher.hash(payload.readableBytesView) == checksum,
                let record = try? BinaryDecoder().decode(DurableRecord.self, from: &payload)
            else { return (records, true) }
            records.append(record)
        }
        return (records, false)
    }
}
