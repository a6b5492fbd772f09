import NIOCore

/// The cluster handshake after TLS 1.3 is up, the same on both sides: send `hello`; on the peer's hello send
/// `auth` (the cookie MAC, see `HandshakeAuthenticator`); verify the peer's `auth`. Established once we sent
/// hello and auth, received the peer's hello, and verified its auth. Any failure yields a `reject` frame to
/// send (except when the peer rejected) followed by `.fail`. Pure: no I/O, no clock, no randomness.
public struct HandshakeStateMachine: Sendable {
    private enum State: Sendable {
        case idle
        case awaitingHello
        case awaitingAuth(peerHello: HandshakeHello, peerHelloBytes: ByteBuffer)
        case established
        case failed
    }

    private let configuration: HandshakeConfiguration
    private let localBinding: [UInt8]
    private let peerBinding: [UInt8]
    private let nonce: [UInt8]
    private let helloBytes: ByteBuffer
    private var state: State = .idle

    /// `localBinding`/`peerBinding`: SHA-256 of the public key of our certificate and of the certificate the
    /// peer presented. `nonce`: 32 fresh random bytes (injected so tests are deterministic).
    public init(configuration: HandshakeConfiguration, localBinding: [UInt8], peerBinding: [UInt8], nonce: [UInt8]) {
        precondition(nonce.count == HandshakeHello.nonceSize, "handshake nonce must be 32 bytes")
        self.configuration = configuration
        self.localBinding = localBinding
        self.peerBinding = peerBinding
        self.nonce = nonce
        self.helloBytes =
            HandshakeHello(
                node: configuration.node, listen: configuration.listen, role: configuration.role,
                weight: configuration.weight, features: configuration.features, nonce: nonce
            ).encoded
    }

    /// True once the peer is authenticated.
    public var isEstablished: Bool {
        if case .established = state { return true }
        return false
    }

    /// Begins the handshake: `[.send(hello)]`. Later calls return `[]`.
    public mutating func start() -> [HandshakeAction] {
        guard case .idle = state else { return [] }
        state = .awaitingHello
        return [.send(ClusterFrame(kind: .hello, payload: helloBytes))]
    }

    /// Handles one frame from the peer. Returns `[]` once established or failed. A frame received before
    /// `start()` starts the handshake first.
    public mutating func received(_ frame: ClusterFrame) -> [HandshakeAction] {
        var actions = start()
        switch state {
        case .idle, .established, .failed:
            return actions
        case .awaitingHello:
            switch frame.kind {
            case .hello: actions += receivedHello(frame)
            case .auth: actions += fail(.authBeforeHello)
            case .reject: actions += receivedReject(frame)
            default: actions += fail(.unexpectedFrame(frame.kind))
            }
        case .awaitingAuth(let peerHello, let peerHelloBytes):
            switch frame.kind {
            case .hello: actions += fail(.duplicateHello)
            case .auth: actions += receivedAuth(frame, peerHello: peerHello, peerHelloBytes: peerHelloBytes)
            case .reject: actions += receivedReject(frame)
            default: actions += fail(.unexpectedFrame(frame.kind))
            }
        }
        return actions
    }

    /// The shell's handshake timer fired: reject and fail unless already established or failed.
    public mutating func timedOut() -> [HandshakeAction] {
        switch state {
        case .established, .failed: return []
        case .idle, .awaitingHello, .awaitingAuth: return fail(.timedOut)
        }
    }

    // MARK: - Steps

    private mutating func receivedHello(_ frame: ClusterFrame) -> [HandshakeAction] {
        guard !frame.compressed else { return fail(.malformed(.hello)) }
        let hello: HandshakeHello
        do {
            hello = try HandshakeHello.decode(frame.payload)
        } catch {
            return fail(error)
        }
        guard hello.node != configuration.node, hello.nonce != nonce else { return fail(.selfConnection) }
        let tag = HandshakeAuthenticator.tag(
            cookie: configuration.cookie, sender: localParty, receiver: peerParty(hello, helloBytes: frame.payload))
        state = .awaitingAuth(peerHello: hello, peerHelloBytes: frame.payload)
        return [.send(ClusterFrame(kind: .auth, payload: HandshakeAuth(tag: tag).encoded))]
    }

    private mutating func receivedAuth(_ frame: ClusterFrame, peerHello: HandshakeHello, peerHelloBytes: ByteBuffer)
        -> [HandshakeAction]
    {
        guard !frame.compressed else { return fail(.malformed(.auth)) }
        let auth: HandshakeAuth
        do {
            auth = try HandshakeAuth.decode(frame.payload)
        } catch {
            return fail(error)
        }
        let valid = HandshakeAuthenticator.isValid(
            auth.tag, cookie: configuration.cookie, sender: peerParty(peerHello, helloBytes: peerHelloBytes),
            receiver: localParty)
        guard valid else { return fail(.wrongCookie) }
        state = .established
        let peer = HandshakePeer(
            node: peerHello.node, listen: peerHello.listen, role: peerHello.role, weight: peerHello.weight,
            features: peerHello.features.intersection(configuration.features))
        return [.established(peer)]
    }

    private mutating func receivedReject(_ frame: ClusterFrame) -> [HandshakeAction] {
        state = .failed
        guard !frame.compressed, let reject = try? HandshakeReject.decode(frame.payload) else {
            return [.fail(.malformed(.reject))]
        }
        return [.fail(.peerRejected(code: reject.code, reason: reject.reason))]
    }

    private mutating func fail(_ failure: HandshakeFailure) -> [HandshakeAction] {
        state = .failed
        let reject = HandshakeReject(code: failure.rejectCode, reason: failure.description)
        return [.send(ClusterFrame(kind: .reject, payload: reject.encoded)), .fail(failure)]
    }

    private var localParty: HandshakeAuthenticator.Party {
        .init(node: configuration.node, nonce: nonce, binding: localBinding, hello: helloBytes)
    }

    private func peerParty(_ hello: HandshakeHello, helloBytes: ByteBuffer) -> HandshakeAuthenticator.Party {
        .init(node: hello.node, nonce: hello.nonce, binding: peerBinding, hello: helloBytes)
    }
}
