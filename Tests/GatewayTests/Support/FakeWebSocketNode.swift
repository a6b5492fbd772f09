import NIOCore
import NIOPosix
import Synchronization

/// Stands in for a node's WebSocket port: reads the HTTP request head, keeps it, answers with `response` (by
/// default a `101`) followed by `afterResponse`, and from then on echoes every byte it receives. A test that sees
/// its own frames come back through the gateway knows they were replayed to the node and that the splice works
/// both ways.
final class FakeWebSocketNode: Sendable {
    let channel: any Channel
    private let recorder: Recorder

    var port: Int { channel.localAddress!.port! }
    /// The request heads received, one per connection, as text.
    var requestHeads: [String] { recorder.heads.withLock { $0 } }

    private init(channel: any Channel, recorder: Recorder) {
        self.channel = channel
        self.recorder = recorder
    }

    static let switchingProtocols =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"

    static func start(response: String = switchingProtocols, afterResponse: [UInt8] = []) async throws -> FakeWebSocketNode {
        let recorder = Recorder()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Connection(recorder: recorder, response: response, afterResponse: afterResponse))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return FakeWebSocketNode(channel: channel, recorder: recorder)
    }

    func stop() async {
        try? await channel.close()
    }

    private final class Recorder: Sendable {
        let heads = Mutex<[String]>([])
    }

    private final class Connection: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        let recorder: Recorder
        let response: String
        let afterResponse: [UInt8]
        private var head: ByteBuffer? = ByteBuffer()

        init(recorder: Recorder, response: String, afterResponse: [UInt8]) {
            self.recorder = recorder
            self.response = response
            self.afterResponse = afterResponse
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            guard var pending = head else {
                context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)  // echo
                return
            }
            pending.writeBuffer(&bytes)
            let view = Array(pending.readableBytesView)
            guard let end = view.firstRange(of: [13, 10, 13, 10]) else {
                head = pending
                return
            }
            head = nil
            recorder.heads.withLock { $0.append(String(decoding: view[..<end.upperBound], as: UTF8.self)) }
            var reply = context.channel.allocator.buffer(string: response)
            reply.writeBytes(afterResponse)
            reply.writeBytes(view[end.upperBound...])  // bytes that came with the head: echoed too
            context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
