import MQTTCore
import NIOCore
import NIOPosix

/// A TCP connection that speaks MQTT by hand: it writes whatever packet or bytes a test gives it and decodes what
/// the server sends with `MQTTPacketDecoder` (role client), so tests see the wire form (topic aliases, DUP, reason
/// codes) and the moment the server closes. No acknowledgement is ever sent on the test's behalf. One task uses it
/// at a time (it is not Sendable).
final class RawConnection {
    enum Event: Sendable {
        case bytes(ByteBuffer)
        case closed
    }

    let channel: any Channel
    let version: MQTTProtocolVersion
    private let events: Inbox<Event>
    /// Received and not yet parsed.
    private var pending = ByteBuffer()
    private var decoder: MQTTPacketDecoder
    private var closed = false

    private init(channel: any Channel, version: MQTTProtocolVersion, events: Inbox<Event>) {
        self.channel = channel
        self.version = version
        self.events = events
        self.decoder = MQTTPacketDecoder(role: .client, version: version)
    }

    /// Opens a TCP connection to 127.0.0.1:`port`. Nothing is sent yet.
    static func open(port: Int, version: MQTTProtocolVersion = .v5) async throws -> RawConnection {
        let events = Inbox<Event>()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(EventCollector(events: events))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawConnection(channel: channel, version: version, events: events)
    }

    /// Opens a connection, sends CONNECT and returns the CONNACK (throws when the server closes instead).
    static func connect(
        port: Int, version: MQTTProtocolVersion = .v5, clientID: String, cleanStart: Bool = true,
        keepAlive: UInt16 = 60, will: MQTTPacket.Will? = nil, properties: MQTTProperties = .init()
    ) async throws -> (RawConnection, MQTTPacket.ConnAck) {
        let connection = try await open(port: port, version: version)
        try await connection.send(
            .connect(.init(
                version: version, clientID: clientID, cleanStart: cleanStart, keepAlive: keepAlive, will: will,
                properties: properties)))
        let packet = try await connection.expectPacket()
        guard case .connAck(let ack) = packet else { throw Unexpected(expected: "CONNACK", got: packet) }
        return (connection, ack)
    }

    // MARK: Writing

    func send(_ packet: MQTTPacket) async throws {
        var buffer = channel.allocator.buffer(capacity: 64)
        packet.encode(version: version, into: &buffer)
        try await channel.writeAndFlush(buffer)
    }

    func send(bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(channel.allocator.buffer(bytes: bytes))
    }

    func send(buffer: ByteBuffer) async throws {
        try await channel.writeAndFlush(buffer)
    }

    /// Closes the socket without DISCONNECT.
    func close() async {
        try? await channel.close()
    }

    // MARK: Reading

    /// Runs `parse` over the bytes received so far, reading more until it returns a value. Returns nil when the
    /// connection closed first; throws `TimedOut` when nothing decisive arrived within `timeout`.
    func receive<T>(
        within timeout: Duration = .seconds(10), _ what: String = "bytes",
        _ parse: (inout ByteBuffer, inout MQTTPacketDecoder) throws -> T?
    ) async throws -> T? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let value = try parse(&pending, &decoder) { return value }
            if closed { return nil }
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero, let event = await events.next(within: remaining) else {
                throw TimedOut(what: what)
            }
            switch event {
            case .bytes(var bytes): pending.writeBuffer(&bytes)
            case .closed: closed = true
            }
        }
    }

    /// The next packet from the server, or nil when the server closed the connection. A decoding failure throws.
    func nextPacket(within timeout: Duration = .seconds(10)) async throws -> MQTTPacket? {
        try await receive(within: timeout, "a packet") { buffer, decoder in
            try decoder.decodeNext(&buffer)
        }
    }

    /// The next packet; throws when the connection closed instead.
    func expectPacket(within timeout: Duration = .seconds(10)) async throws -> MQTTPacket {
        guard let packet = try await nextPacket(within: timeout) else { throw Unexpected(expected: "a packet", got: nil) }
        return packet
    }

    /// Reads until the server closes the connection; returns the packets that came before.
    func packetsUntilClosed(within timeout: Duration = .seconds(10)) async throws -> [MQTTPacket] {
        var packets: [MQTTPacket] = []
        let deadline = ContinuousClock.now + timeout
        while let packet = try await nextPacket(within: deadline - ContinuousClock.now) { packets.append(packet) }
        return packets
    }
}

/// What a test expected from the server and what came instead.
struct Unexpected: Error, CustomStringConvertible {
    let expected: String
    let got: MQTTPacket?
    var description: String { "expected \(expected), got \(got.map { "\($0)" } ?? "connection closed")" }
}

/// Forwards every read and the close to an inbox.
private final class EventCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let events: Inbox<RawConnection.Event>

    init(events: Inbox<RawConnection.Event>) { self.events = events }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        events.append(.bytes(unwrapInboundIn(data)))
    }

    func channelInactive(context: ChannelHandlerContext) {
        events.append(.closed)
        events.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)  // a reset by the peer counts as closed
    }
}

extension MQTTPacket {
    /// The DISCONNECT's reason code, for `#expect` on a packet list.
    var disconnectReason: MQTTReasonCode? {
        if case .disconnect(let d) = self { return d.reasonCode }
        return nil
    }

    var publish: MQTTPacket.Publish? {
        if case .publish(let p) = self { return p }
        return nil
    }
}
