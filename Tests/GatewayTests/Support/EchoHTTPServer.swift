import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A small HTTP/1.1 server standing in for a node's HTTP API: every request is answered `200` with a body that
/// describes it (the connection number, method, URI, and the headers the proxy sets) and a Content-Length, on a
/// keep-alive connection. It counts the connections it accepted and keeps the heads of the requests it answered.
final class EchoHTTPServer: Sendable {
    struct Seen: Sendable {
        var connection: Int
        var head: HTTPRequestHead
        var bodyBytes: Int
    }

    let channel: any Channel
    private let recorder: Recorder

    var port: Int { channel.localAddress!.port! }
    var connections: Int { recorder.record.withLock { $0.connections } }
    var requests: [Seen] { recorder.record.withLock { $0.requests } }

    private init(channel: any Channel, recorder: Recorder) {
        self.channel = channel
        self.recorder = recorder
    }

    static func start() async throws -> EchoHTTPServer {
        let recorder = Recorder()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let number = recorder.record.withLock { record in
                        record.connections += 1
                        return record.connections
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Responder(connection: number, recorder: recorder))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return EchoHTTPServer(channel: channel, recorder: recorder)
    }

    func stop() async {
        try? await channel.close()
    }

    private final class Recorder: Sendable {
        let record = Mutex<(connections: Int, requests: [Seen])>((0, []))
    }

    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let connection: Int
        let recorder: Recorder
        private var head: HTTPRequestHead?
        private var bodyBytes = 0

        init(connection: Int, recorder: Recorder) {
            self.connection = connection
            self.recorder = recorder
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                bodyBytes = 0
            case .body(let bytes):
                bodyBytes += bytes.readableBytes
            case .end:
                guard let head else { return }
                let seen = Seen(connection: connection, head: head, bodyBytes: bodyBytes)
                recorder.record.withLock { $0.requests.append(seen) }
                let body = """
                    connection=\(connection) method=\(head.method.rawValue) uri=\(head.uri) \
                    body=\(bodyBytes) xff=\(head.headers["x-forwarded-for"].joined(separator: "|")) \
                    proto=\(head.headers["x-forwarded-proto"].joined(separator: "|")) \
                    host=\(head.headers["host"].joined(separator: "|"))
                    """
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "text/plain")
                headers.add(name: "Content-Length", value: String(body.utf8.count))
                headers.add(name: "X-Upstream", value: "echo")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
