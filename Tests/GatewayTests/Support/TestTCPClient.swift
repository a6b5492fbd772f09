import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A TCP connection for tests: writes raw bytes and collects what arrives, until the peer closes. A test waits for
/// something in the received bytes with a deadline (`receive(within:_:)`); nothing here sleeps.
final class TestTCPClient: Sendable {
    struct TimedOut: Error, CustomStringConvertible {
        var what: String
        var description: String { "timed out waiting for \(what)" }
    }

    let channel: any Channel
    private let collector: Collector

    private init(channel: any Channel, collector: Collector) {
        self.channel = channel
        self.collector = collector
    }

    static func connect(port: Int, host: String = "127.0.0.1") async throws -> TestTCPClient {
        let collector = Collector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
            }
            .connect(host: host, port: port).get()
        return TestTCPClient(channel: channel, collector: collector)
    }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(channel.allocator.buffer(bytes: bytes))
    }

    func send(_ text: String) async throws {
        try await send(Array(text.utf8))
    }

    func close() async {
        try? await channel.close()
    }

    /// Runs `parse` over the unconsumed bytes (and whether the peer has closed) each time something arrives, until
    /// it returns a value; throws `TimedOut` after `timeout`.
    func receive<T: Sendable>(
        within timeout: Duration = .seconds(10), _ what: String,
        _ parse: @escaping @Sendable (inout ByteBuffer, Bool) -> T?
    ) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while true {
            let (value, version) = collector.state.withLock { state -> (T?, Int) in
                (parse(&state.bytes, state.closed), state.version)
            }
            if let value { return value }
            guard ContinuousClock.now < deadline else { throw TimedOut(what: what) }
            await collector.waitForChange(after: version, until: deadline)
        }
    }

    /// Waits until the peer has closed the connection; returns the bytes not consumed before.
    func untilClosed(within timeout: Duration = .seconds(10)) async throws -> [UInt8] {
        try await receive(within: timeout, "the connection to close") { buffer, closed in
            closed ? Array(buffer.readableBytesView) : nil
        }
    }

    /// Collects bytes and the close; wakes waiters on every change.
    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer

        struct State {
            var bytes = ByteBuffer()
            var closed = false
            var version = 0
            var waiters: [CheckedContinuation<Void, Never>] = []
        }

        let state = Mutex(State())

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            change { $0.bytes.writeBuffer(&bytes) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            change { $0.closed = true }
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }

        private func change(_ body: (inout State) -> Void) {
            let waiters = state.withLock { state in
                body(&state)
                state.version += 1
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }

        /// Returns once the state has changed after `version`, or at `deadline`.
        func waitForChange(after version: Int, until deadline: ContinuousClock.Instant) async {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    await withCheckedContinuation { continuation in
                        let changed = self.state.withLock { state in
                            if state.version != version { return true }
                            state.waiters.append(continuation)
                            return false
                        }
                        if changed { continuation.resume() }
                    }
                }
                group.addTask { try? await Task.sleep(until: deadline) }
                await group.next()
                group.cancelAll()
                // The continuation task cannot be cancelled: wake it so the group can finish.
                let waiters = self.state.withLock { state in
                    defer { state.waiters = [] }
                    return state.waiters
                }
                for waiter in waiters { waiter.resume() }
            }
        }
    }
}

/// An HTTP/1.1 response as a test reads it off the wire (Content-Length bodies only).
struct TestHTTPResponse: Sendable {
    var status: Int
    /// Header names lower-cased; repeated headers joined with ", ".
    var headers: [String: String]
    var body: String

    /// Parses one response head (and its Content-Length body, unless `headOnly`) from the front of `buffer`.
    static func parse(_ buffer: inout ByteBuffer, headOnly: Bool = false) -> TestHTTPResponse? {
        let bytes = Array(buffer.readableBytesView)
        guard let end = bytes.firstRange(of: [13, 10, 13, 10]) else { return nil }
        let head = String(decoding: bytes[..<end.lowerBound], as: UTF8.self)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let statusLine = lines.removeFirst().split(separator: " ")
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[name] = headers[name].map { "\($0), \(value)" } ?? value
        }
        let length = headOnly ? 0 : headers["content-length"].flatMap { Int($0) } ?? 0
        guard bytes.count >= end.upperBound + length else { return nil }
        let body = String(decoding: bytes[end.upperBound..<end.upperBound + length], as: UTF8.self)
        buffer.moveReaderIndex(forwardBy: end.upperBound + length)
        return TestHTTPResponse(
            status: statusLine.count > 1 ? Int(statusLine[1]) ?? 0 : 0, headers: headers, body: body)
    }
}
