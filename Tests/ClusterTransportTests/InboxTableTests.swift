import NIOCore
import NIOEmbedded
import Synchronization
import Testing
@testable import ClusterTransport

@Suite("Inbound FIFO inboxes and the coalescing frame writer")
struct InboxTableTests {
    @Test("jobs for one (source, recipient) run one at a time, in submission order, even when they suspend")
    func fifoPerRecipient() async throws {
        let table = InboxTable()
        let key = InboxTable.Key(source: NodeName("a")!, recipient: ClusterActorID(key: ActorKey("k/1")!))
        let log = Mutex<[Int]>([])
        let running = Atomic<Int>(0)
        let overlapped = Atomic<Bool>(false)
        let (done, finish) = AsyncStream.makeStream(of: Void.self)
        for value in 0..<500 {
            table.submit(key) {
                if running.add(1, ordering: .relaxed).newValue > 1 { overlapped.store(true, ordering: .relaxed) }
                if value % 7 == 0 { await Task.yield() }  // a suspension point inside a job
                log.withLock { $0.append(value) }
                running.subtract(1, ordering: .relaxed)
                if value == 499 { finish.yield() }
            }
        }
        for await _ in done { break }
        #expect(log.withLock { $0 } == Array(0..<500))
        let didOverlap = overlapped.load(ordering: .relaxed)
        #expect(!didOverlap)
        // The inbox is gone once it is empty.
        try await waitUntil { table.activeCount == 0 }
    }

    @Test("inboxes of different recipients do not wait for each other")
    func independentRecipients() async throws {
        let table = InboxTable()
        let source = NodeName("a")!
        let blocked = InboxTable.Key(source: source, recipient: ClusterActorID(key: ActorKey("k/blocked")!))
        let free = InboxTable.Key(source: source, recipient: ClusterActorID(key: ActorKey("k/free")!))
        let (gate, open) = AsyncStream.makeStream(of: Void.self)
        let (ran, report) = AsyncStream.makeStream(of: String.self)
        table.submit(blocked) {
            for await _ in gate { break }
            report.yield("blocked")
        }
        table.submit(free) { report.yield("free") }
        var iterator = ran.makeAsyncIterator()
        #expect(await iterator.next() == "free")
        open.yield()
        #expect(await iterator.next() == "blocked")
    }

    @Test("the frame writer queues while unattached, then writes everything in order with one flush")
    func frameWriterCoalesces() async throws {
        let writer = FrameWriter(limit: 1 << 20)
        for index in 0..<10 {
            var payload = ByteBuffer()
            payload.writeInteger(UInt32(index))
            #expect(writer.enqueue(ClusterFrame(kind: .call, payload: payload)) == .queued)
        }
        let channel = EmbeddedChannel()
        writer.attach(channel, compressAbove: nil)
        channel.embeddedEventLoop.run()
        var decoded: [UInt32] = []
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
            var decoder = ClusterFrameDecoder(maxFrameSize: 1024)
            while let frame = try decoder.decode(buffer: &buffer) {
                var payload = frame.payload
                decoded.append(payload.readInteger(as: UInt32.self)!)
            }
        }
        #expect(decoded == (0..<10).map(UInt32.init))
        #expect(writer.queuedBytes == 0)
    }

    @Test("the frame writer refuses past its byte bound and after close")
    func frameWriterBound() {
        let writer = FrameWriter(limit: 100)
        let frame = ClusterFrame(kind: .call, payload: ByteBuffer(repeating: 1, count: 60))
        #expect(writer.enqueue(frame) == .queued)
        #expect(writer.enqueue(frame) == .full)
        writer.close()
        #expect(writer.enqueue(frame) == .closed)
    }
}
