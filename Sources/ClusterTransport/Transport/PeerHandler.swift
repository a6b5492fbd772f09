import Logging
import NIOCore
import NIOSSL
import NIOTLS

/// One TLS link to a peer, after TLS: runs the cookie handshake, and once it is established hands every frame to
/// the transport. Until then no frame is acted on: the handshake state machine sees them all and fails on anything
/// that is not part of the handshake.
final class PeerHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ClusterFrame

    enum Direction {
        case inbound
        case outbound(Association)
    }

    private let system: ClusterSystem
    private let direction: Direction
    private let writer: FrameWriter
    private var handshake: HandshakeStateMachine?
    private var peer: HandshakePeer?
    private var timeout: Scheduled<Void>?
    private var logger: Logger

    init(system: ClusterSystem, direction: Direction, writer: FrameWriter) {
        self.system = system
        self.direction = direction
        self.writer = writer
        self.logger = system.logger
    }

    func channelActive(context: ChannelHandlerContext) {
        if let remote = context.remoteAddress { logger[metadataKey: "cluster/remote"] = "\(remote)" }
        let loop = context.eventLoop.assumeIsolated()
        timeout = loop.scheduleTask(in: system.settings.handshakeTimeout.timeAmount) { [self] in
            guard peer == nil else { return }
            if var machine = handshake {
                let actions = machine.timedOut()
                handshake = machine
                perform(actions, context: context)
            } else {
                fail(LinkError.handshakeTimedOut, context: context)
            }
        }
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            startHandshake(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if let peer {
            system.transport.received(frame, from: peer, replyWriter: writer, context: context, system: system)
            return
        }
        guard var machine = handshake else { return fail(LinkError.frameBeforeTLS, context: context) }
        let actions = machine.received(frame)
        handshake = machine
        perform(actions, context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writer.writabilityChanged(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timeout?.cancel()
        writer.detach()
        if case .inbound = direction { writer.close() }
        system.transport.linkClosed(peer: peer, direction: direction, system: system)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if peer == nil {
            logger.warning("cluster link refused", metadata: ["cluster/error": "\(error)"])
        } else {
            logger.debug("cluster link error", metadata: ["cluster/peer": "\(peer!.node)", "cluster/error": "\(error)"])
        }
        if case .outbound(let association) = direction, peer == nil { association.handshakeFailed(error) }
        context.close(promise: nil)
    }

    // MARK: Handshake

    private func startHandshake(context: ChannelHandlerContext) {
        let binding: [UInt8]
        do {
            let ssl = try context.pipeline.syncOperations.handler(type: NIOSSLHandler.self)
            guard let certificate = ssl.peerCertificate else { return fail(LinkError.noPeerCertificate, context: context) }
            binding = try ClusterTLS.binding(of: certificate)
        } catch {
            return fail(LinkError.noPeerCertificate, context: context)
        }
        var nonce = [UInt8](repeating: 0, count: 32)
        var random = SystemRandomNumberGenerator()
        for index in nonce.indices { nonce[index] = random.next() }
        var machine = HandshakeStateMachine(
            configuration: system.transport.handshakeConfiguration, localBinding: system.transport.tls.localBinding,
            peerBinding: binding, nonce: nonce)
        let actions = machine.start()
        handshake = machine
        perform(actions, context: context)
    }

    private func perform(_ actions: [HandshakeAction], context: ChannelHandlerContext) {
        for action in actions {
            switch action {
            case .send(let frame):
                var buffer = context.channel.allocator.buffer(capacity: 128)
                frame.encode(into: &buffer, compressAbove: nil)
                context.writeAndFlush(NIOAny(buffer), promise: nil)
            case .established(let established):
                timeout?.cancel()
                peer = established
                logger[metadataKey: "cluster/peer"] = "\(established.node)"
                let compress = established.features.contains(.lz4) ? system.settings.compressAbove : nil
                writer.attach(context.channel, compressAbove: compress)
                system.transport.linkEstablished(established, direction: direction, channel: context.channel, system: system)
            case .fail(let failure):
                fail(failure, context: context)
            }
        }
    }

    private func fail(_ failure: any Error, context: ChannelHandlerContext) {
        logger.warning("cluster peer rejected", metadata: ["cluster/reason": "\(failure)"])
        if case .outbound(let association) = direction { association.handshakeFailed(failure) }
        context.close(promise: nil)
    }
}

/// Why a link failed before the handshake state machine could run.
enum LinkError: Error, CustomStringConvertible {
    case noPeerCertificate
    case handshakeTimedOut
    case frameBeforeTLS

    var description: String {
        switch self {
        case .noPeerCertificate: "the peer presented no certificate"
        case .handshakeTimedOut: "the TLS handshake did not complete in time"
        case .frameBeforeTLS: "a frame arrived before TLS was up"
        }
    }
}
