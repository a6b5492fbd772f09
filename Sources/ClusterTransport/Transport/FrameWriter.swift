import NIOCore
import Synchronization

/// The outbound side of one link: frames from any thread are queued and written in one batch on the channel's
/// event loop with a single flush, so concurrent callers share syscalls. The queue is bounded in bytes: past the
/// bound `enqueue` refuses and the call fails fast with `overloaded`. Frames wait here while the link is not
/// connected yet or its socket is above the write watermark.
final class FrameWriter: Sendable {
    private struct State {
        var queue: [ByteBuffer] = []
        var queuedBytes = 0
        var channel: (any Channel)?
        var writable = true
        var drainScheduled = false
        var closed = false
    }

    private let state = Mutex(State())
    private let limit: Int
    private let compressAbove: Mutex<Int?>

    init(limit: Int) {
        self.limit = limit
        self.compressAbove = Mutex(nil)
    }

    enum EnqueueResult { case queued, full, closed }

    func enqueue(_ frame: ClusterFrame) -> EnqueueResult {
        var buffer = ByteBuffer()
        frame.encode(into: &buffer, compressAbove: compressAbove.withLock { $0 })
        let size = buffer.readableBytes
        let (result, drainOn): (EnqueueResult, (any Channel)?) = state.withLock { s in
            if s.closed { return (.closed, nil) }
            if s.queuedBytes + size > limit, !s.queue.isEmpty { return (.full, nil) }
            s.queue.append(buffer)
            s.queuedBytes += size
            guard let channel = s.channel, s.writable, !s.drainScheduled else { return (.queued, nil) }
            s.drainScheduled = true
            return (.queued, channel)
        }
        if let drainOn { drainOn.eventLoop.execute { self.drain() } }
        return result
    }

    /// The link is up: queued frames go out now. `compressAbove` is nil unless both sides negotiated lz4.
    func attach(_ channel: any Channel, compressAbove: Int?) {
        self.compressAbove.withLock { $0 = compressAbove }
        let drain = state.withLock { s in
            s.channel = channel
            s.writable = channel.isWritable
            guard !s.queue.isEmpty, !s.drainScheduled else { return false }
            s.drainScheduled = true
            return true
        }
        if drain { channel.eventLoop.execute { self.drain() } }
    }

    /// The link went down: frames still queued stay for the next connection unless `close` is called.
    func detach() {
        state.withLock { s in
            s.channel = nil
            s.drainScheduled = false
        }
    }

    /// No more frames: the queue is dropped and later `enqueue`s answer `.closed`.
    func close() {
        state.withLock { s in
            s.closed = true
            s.queue.removeAll()
            s.queuedBytes = 0
            s.channel = nil
        }
    }

    /// Drops what is queued (the calls behind it are failed by their owner); the writer stays usable.
    func discardQueued() {
        state.withLock { s in
            s.queue.removeAll()
            s.queuedBytes = 0
        }
    }

    func writabilityChanged(_ writable: Bool) {
        let channel: (any Channel)? = state.withLock { s in
            s.writable = writable
            guard writable, !s.queue.isEmpty, !s.drainScheduled, let channel = s.channel else { return nil }
            s.drainScheduled = true
            return channel
        }
        channel?.eventLoop.execute { self.drain() }
    }

    /// On the event loop: writes everything queued, then flushes once.
    private func drain() {
        let (frames, channel): ([ByteBuffer], (any Channel)?) = state.withLock { s in
            s.drainScheduled = false
            guard let channel = s.channel, s.writable else { return ([], nil) }
            defer {
                s.queue.removeAll(keepingCapacity: true)
                s.queuedBytes = 0
            }
            return (s.queue, channel)
        }
        guard let channel, !frames.isEmpty else { return }
        for frame in frames { channel.write(frame, promise: nil) }
        channel.flush()
    }

    var queuedBytes: Int { state.withLock { $0.queuedBytes } }
}
