import NIOCore
import NIOEmbedded
import Testing

@testable import ProxyProtocol

/// The handler on an `EmbeddedChannel`: event first, then the bytes that followed, then out of the way.
@Suite("PROXY protocol v2 decoder handler")
struct ProxyProtocolDecoderTests {
    /// Records what reaches the handler after the decoder.
    final class Recorder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        enum Seen: Equatable {
            case event(ProxyProtocolEvent)
            case read([UInt8])
        }
        var seen: [Seen] = []

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? ProxyProtocolEvent { seen.append(.event(event)) }
            context.fireUserInboundEventTriggered(event)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            seen.append(.read(Array(unwrapInboundIn(data).readableBytesView)))
        }
    }

    static let client = try! SocketAddress(ipAddress: "203.0.113.9", port: 51_000)
    static let listener = try! SocketAddress(ipAddress: "10.1.2.3", port: 1883)

    static func header(_ source: SocketAddress?, _ destination: SocketAddress?) -> [UInt8] {
        var buffer = ByteBuffer()
        ProxyProtocolHeader.encode(source: source, destination: destination, into: &buffer)
        return Array(buffer.readableBytesView)
    }

    static func makeChannel(
        onError: ((ProxyProtocolError) -> Void)? = nil
    ) throws -> (EmbeddedChannel, Recorder) {
        let recorder = Recorder()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ProxyProtocolDecoder(onError: onError))
        try channel.pipeline.syncOperations.addHandler(recorder)
        try channel.connect(to: listener).wait()
        return (channel, recorder)
    }

    static func isDecoderInPipeline(_ channel: EmbeddedChannel) -> Bool {
        (try? channel.pipeline.syncOperations.context(handlerType: ProxyProtocolDecoder.self)) != nil
    }

    @Test("header and payload in one read: the event, then the payload, and the decoder is gone")
    func oneRead() throws {
        let (channel, recorder) = try Self.makeChannel()
        try channel.writeInbound(ByteBuffer(bytes: Self.header(Self.client, Self.listener) + [0x10, 0x02]))
        #expect(recorder.seen == [.event(.source(Self.client)), .read([0x10, 0x02])])
        #expect(!Self.isDecoderInPipeline(channel))
        try channel.writeInbound(ByteBuffer(bytes: [0xC0, 0x00]))
        #expect(recorder.seen.last == .read([0xC0, 0x00]))
        #expect(channel.isActive)
        _ = try channel.finish()
    }

    @Test("a header dripped a byte at a time: nothing passes until it is whole; no empty read after it")
    func dripFed() throws {
        let (channel, recorder) = try Self.makeChannel()
        let bytes = Self.header(Self.client, Self.listener)
        for byte in bytes.dropLast() {
            try channel.writeInbound(ByteBuffer(bytes: [byte]))
            #expect(recorder.seen.isEmpty)
            #expect(Self.isDecoderInPipeline(channel))
        }
        try channel.writeInbound(ByteBuffer(bytes: [bytes.last!]))
        #expect(recorder.seen == [.event(.source(Self.client))])
        #expect(!Self.isDecoderInPipeline(channel))
        try channel.writeInbound(ByteBuffer(bytes: [0x10]))
        #expect(recorder.seen == [.event(.source(Self.client)), .read([0x10])])
        _ = try channel.finish()
    }

    @Test("LOCAL: the event carries no address")
    func local() throws {
        let (channel, recorder) = try Self.makeChannel()
        try channel.writeInbound(ByteBuffer(bytes: Self.header(nil, nil)))
        #expect(recorder.seen == [.event(.source(nil))])
        _ = try channel.finish()
    }

    @Test("a connection without the header is closed at its first byte, nothing passed on")
    func badHeaderCloses() throws {
        var errors: [ProxyProtocolError] = []
        let (channel, recorder) = try Self.makeChannel(onError: { errors.append($0) })
        #expect(channel.isActive)
        try channel.writeInbound(ByteBuffer(bytes: [0x10, 0x0C, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54]))
        #expect(!channel.isActive)
        #expect(errors == [.badSignature])
        #expect(recorder.seen.isEmpty)
        _ = try? channel.finish()
    }

    @Test("a length over the cap closes the connection after 16 bytes")
    func overCapCloses() throws {
        var errors: [ProxyProtocolError] = []
        let (channel, recorder) = try Self.makeChannel(onError: { errors.append($0) })
        try channel.writeInbound(ByteBuffer(bytes: ProxyProtocolHeader.signature + [0x21, 0x11, 0x10, 0x00]))
        #expect(!channel.isActive)
        #expect(errors == [.lengthOverLimit(length: 4096, limit: ProxyProtocolHeader.defaultMaximumLength)])
        #expect(recorder.seen.isEmpty)
        _ = try? channel.finish()
    }
}
