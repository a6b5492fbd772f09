import Crypto
import NIOCore
import Testing

@testable import ClusterTransport

private let goodCookie = String(repeating: "s3cret-cookie-", count: 4)  // 56 bytes
private let otherCookie = String(repeating: "other-cookie-!", count: 4)

private func node(_ name: String, _ incarnation: UInt64) -> NodeID {
    NodeID(name: NodeName(name)!, incarnation: Incarnation(rawValue: incarnation))
}

private func configuration(
    _ name: String, incarnation: UInt64 = 1, cookie: String = goodCookie, features: HandshakeFeatures = .lz4,
    role: MemberRole = .broker, weight: Double = 1
) -> HandshakeConfiguration {
    HandshakeConfiguration(
        node: node(name, incarnation), listen: Endpoint(host: "\(name).local", port: 7400)!, role: role,
        weight: weight, features: features, cookie: ClusterCookie(cookie)!)
}

private func nonce(_ seed: UInt8) -> [UInt8] { (0..<32).map { UInt8(truncatingIfNeeded: Int($0) &* 31 &+ Int(seed)) } }

private func binding(_ label: String) -> [UInt8] { Array(SHA256.hash(data: Array(label.utf8))) }

private func machine(
    _ config: HandshakeConfiguration, local: String, peer: String, nonceSeed: UInt8
) -> HandshakeStateMachine {
    HandshakeStateMachine(
        configuration: config, localBinding: binding(local), peerBinding: binding(peer), nonce: nonce(nonceSeed))
}

private func sentFrames(_ actions: [HandshakeAction]) -> [ClusterFrame] {
    actions.compactMap { if case .send(let frame) = $0 { frame } else { nil } }
}

private func outcome(_ actions: [HandshakeAction]) -> HandshakeAction? {
    actions.last { if case .send = $0 { false } else { true } }
}

/// Runs two machines against each other until no frames are in flight. `tamper` may rewrite frames in transit.
private func run(
    _ a: inout HandshakeStateMachine, _ b: inout HandshakeStateMachine,
    tamper: (ClusterFrame) -> ClusterFrame = { $0 }
) -> (a: [HandshakeAction], b: [HandshakeAction], frames: [ClusterFrame]) {
    var aLog = a.start()
    var bLog = b.start()
    var toB = sentFrames(aLog)
    var toA = sentFrames(bLog)
    var all = toA + toB
    while !toA.isEmpty || !toB.isEmpty {
        if !toB.isEmpty {
            let actions = b.received(tamper(toB.removeFirst()))
            bLog += actions
            toA += sentFrames(actions)
            all += sentFrames(actions)
        }
        if !toA.isEmpty {
            let actions = a.received(tamper(toA.removeFirst()))
            aLog += actions
            toB += sentFrames(actions)
            all += sentFrames(actions)
        }
    }
    return (aLog, bLog, all)
}

private func contains(_ haystack: ByteBuffer, _ needle: [UInt8]) -> Bool {
    let bytes = Array(haystack.readableBytesView)
    guard bytes.count >= needle.count else { return false }
    return (0...(bytes.count - needle.count)).contains { Array(bytes[$0..<($0 + needle.count)]) == needle }
}

/// A hello payload as `HandshakeHello` would write it, with a hook to alter fields.
private func helloPayload(
    name: String = "peer", incarnation: UInt64 = 9, nonceSeed: UInt8 = 99,
    edit: (inout HandshakeHello) -> Void = { _ in }
) -> ByteBuffer {
    var hello = HandshakeHello(
        node: node(name, incarnation), listen: Endpoint(host: "peer.local", port: 7400)!, role: .broker, weight: 1,
        features: .lz4, nonce: nonce(nonceSeed))
    edit(&hello)
    return hello.encoded
}

/// Expects `[.send(reject with the failure's code), .fail(failure)]`.
private func expectRejected(
    _ actions: [HandshakeAction], _ failure: HandshakeFailure, sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(actions.count == 2, sourceLocation: sourceLocation)
    #expect(actions.last == .fail(failure), sourceLocation: sourceLocation)
    guard let frame = sentFrames(actions).first, frame.kind == .reject,
        let reject = try? HandshakeReject.decode(frame.payload)
    else {
        Issue.record("no reject frame in \(actions)", sourceLocation: sourceLocation)
        return
    }
    #expect(reject.code == failure.rejectCode, sourceLocation: sourceLocation)
}

@Suite struct HandshakeTests {
    @Test(arguments: [
        (HandshakeFeatures.lz4, HandshakeFeatures.lz4, HandshakeFeatures.lz4),
        (HandshakeFeatures.lz4, HandshakeFeatures(), HandshakeFeatures()),
        (HandshakeFeatures(), HandshakeFeatures.lz4, HandshakeFeatures()),
        (HandshakeFeatures(rawValue: 0b1011), HandshakeFeatures(rawValue: 0b0111), HandshakeFeatures(rawValue: 0b0011)),
    ])
    func twoMachinesEstablishAndAgreeOnFeatures(
        aFeatures: HandshakeFeatures, bFeatures: HandshakeFeatures, negotiated: HandshakeFeatures
    ) {
        let aConfig = configuration("alpha", incarnation: 5, features: aFeatures, role: .broker, weight: 2.5)
        let bConfig = configuration("beta", incarnation: 7, features: bFeatures, role: .gateway, weight: 0)
        var a = machine(aConfig, local: "cert-a", peer: "cert-b", nonceSeed: 1)
        var b = machine(bConfig, local: "cert-b", peer: "cert-a", nonceSeed: 2)
        let result = run(&a, &b)
        #expect(
            outcome(result.a)
                == .established(
                    HandshakePeer(
                        node: bConfig.node, listen: bConfig.listen, role: .gateway, weight: 0, features: negotiated)))
        #expect(
            outcome(result.b)
                == .established(
                    HandshakePeer(
                        node: aConfig.node, listen: aConfig.listen, role: .broker, weight: 2.5, features: negotiated)))
        #expect(a.isEstablished && b.isEstablished)
        #expect(result.frames.map(\.kind) == [.hello, .hello, .auth, .auth])
        #expect(result.frames.allSatisfy { !contains($0.payload, Array(goodCookie.utf8.prefix(16))) })
        // Established: the machine no longer acts on frames or timeouts.
        #expect(a.received(ClusterFrame(kind: .call, payload: ByteBuffer())) == [])
        #expect(a.timedOut() == [])
        #expect(a.start() == [])
    }

    @Test(arguments: [(goodCookie, otherCookie), (otherCookie, goodCookie)])
    func wrongCookieOnEitherSideFailsBoth(aCookie: String, bCookie: String) {
        var a = machine(configuration("alpha", cookie: aCookie), local: "cert-a", peer: "cert-b", nonceSeed: 1)
        var b = machine(configuration("beta", cookie: bCookie), local: "cert-b", peer: "cert-a", nonceSeed: 2)
        let result = run(&a, &b)
        expectRejected(Array(result.a.suffix(2)), .wrongCookie)
        expectRejected(Array(result.b.suffix(2)), .wrongCookie)
        #expect(!a.isEstablished && !b.isEstablished)
        for cookie in [goodCookie, otherCookie] {
            for window in stride(from: 0, to: cookie.utf8.count - 8, by: 4) {
                let needle = Array(Array(cookie.utf8)[window..<(window + 8)])
                #expect(result.frames.allSatisfy { !contains($0.payload, needle) })
            }
        }
    }

    @Test func replayedAuthFromAnEarlierSessionFails() {
        var a1 = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 1)
        var b1 = machine(configuration("beta"), local: "cert-b", peer: "cert-a", nonceSeed: 2)
        let helloA1 = sentFrames(a1.start())[0]
        let oldHelloFromB = sentFrames(b1.start())[0]
        let authA1 = sentFrames(a1.received(oldHelloFromB))[0]
        let authB1 = sentFrames(b1.received(helloA1))[0]
        #expect(outcome(a1.received(authB1)) != nil && a1.isEstablished)
        #expect(outcome(b1.received(authA1)) != nil && b1.isEstablished)
        // alpha's own auth reflected back is no good either.
        let oldAuthFromB = [authB1, authA1]

        // A new session of alpha (fresh nonce) receives beta's recorded hello and auth.
        for oldAuth in oldAuthFromB {
            var a2 = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 3)
            _ = a2.start()
            #expect(sentFrames(a2.received(oldHelloFromB)).map(\.kind) == [.auth])
            expectRejected(a2.received(oldAuth), .wrongCookie)
        }
        // Same with a fresh hello from beta's side but the old auth.
        var a3 = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 3)
        var b3 = machine(configuration("beta"), local: "cert-b", peer: "cert-a", nonceSeed: 4)
        _ = a3.start()
        let helloB3 = sentFrames(b3.start())[0]
        _ = a3.received(helloB3)
        expectRejected(a3.received(oldAuthFromB[0]), .wrongCookie)
    }

    @Test func manInTheMiddleWithDifferentCertificatesFails() {
        // Each side sees the MITM's certificate as its peer's; the MITM relays frames unchanged.
        var a = machine(configuration("alpha"), local: "cert-a", peer: "cert-mitm-1", nonceSeed: 1)
        var b = machine(configuration("beta"), local: "cert-b", peer: "cert-mitm-2", nonceSeed: 2)
        let result = run(&a, &b)
        #expect(outcome(result.a) == .fail(.wrongCookie))
        #expect(outcome(result.b) == .fail(.wrongCookie))
        // Only the peer's view of the binding differs: still fails.
        var c = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 1)
        var d = machine(configuration("beta"), local: "cert-b", peer: "cert-mitm", nonceSeed: 2)
        let second = run(&c, &d)
        #expect(outcome(second.a) == .fail(.wrongCookie))
        #expect(outcome(second.b) == .fail(.wrongCookie))
    }

    @Test func tamperedHelloFailsAuthentication() {
        var a = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 1)
        var b = machine(configuration("beta"), local: "cert-b", peer: "cert-a", nonceSeed: 2)
        // Flip beta's announced role byte in transit (alpha's view of beta's hello differs from what beta sent).
        let result = run(&a, &b) { frame in
            guard frame.kind == .hello, contains(frame.payload, Array("beta".utf8)) else { return frame }
            var payload = frame.payload
            let roleOffset = payload.readableBytes - 32 - 4 - 8 - 1
            payload.setInteger(MemberRole.gateway.rawValue, at: payload.readerIndex + roleOffset)
            return ClusterFrame(kind: .hello, payload: payload)
        }
        #expect(outcome(result.a) == .fail(.wrongCookie))
        #expect(outcome(result.b) == .fail(.wrongCookie))
    }

    @Test func truncatedHelloAtEveryLengthFailsCleanly() {
        let full = helloPayload()
        for length in 0..<full.readableBytes {
            var a = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 1)
            _ = a.start()
            let actions = a.received(ClusterFrame(kind: .hello, payload: full.getSlice(at: 0, length: length)!))
            expectRejected(actions, .malformed(.hello))
            #expect(a.received(ClusterFrame(kind: .hello, payload: full)) == [])
        }
        var control = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 1)
        _ = control.start()
        #expect(sentFrames(control.received(ClusterFrame(kind: .hello, payload: full))).map(\.kind) == [.auth])
    }

    @Test func truncatedOrOverlongAuthFailsCleanly() {
        for length in [0, 1, 16, 31, 33, 64] {
            var a = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 1)
            _ = a.start()
            _ = a.received(ClusterFrame(kind: .hello, payload: helloPayload()))
            expectRejected(
                a.received(ClusterFrame(kind: .auth, payload: ByteBuffer(bytes: [UInt8](repeating: 7, count: length)))),
                .malformed(.auth))
        }
        // Every truncation of a genuine auth.
        var a = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 1)
        var b = machine(configuration("beta"), local: "cert-b", peer: "cert-a", nonceSeed: 2)
        let helloA = sentFrames(a.start())[0]
        let helloB = sentFrames(b.start())[0]
        let authB = sentFrames(b.received(helloA))[0]
        for length in 0..<authB.payload.readableBytes {
            var fresh = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 1)
            _ = fresh.start()
            _ = fresh.received(helloB)
            expectRejected(
                fresh.received(ClusterFrame(kind: .auth, payload: authB.payload.getSlice(at: 0, length: length)!)),
                .malformed(.auth))
        }
        _ = a.received(helloB)
        #expect(outcome(a.received(authB)).map { if case .established = $0 { true } else { false } } == true)
    }

    @Test func randomlyCorruptedHellosNeverCrashOrEstablish() {
        var random = SeededRandom(seed: 11)
        let full = helloPayload()
        for _ in 0..<3000 {
            var payload = full
            for _ in 0...random.below(3) {
                payload.setInteger(UInt8(truncatingIfNeeded: random.next()), at: random.below(payload.readableBytes))
            }
            if random.below(4) == 0 { payload = payload.getSlice(at: 0, length: random.below(payload.readableBytes))! }
            var a = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 1)
            _ = a.start()
            let actions = a.received(ClusterFrame(kind: .hello, payload: payload))
            let kinds = sentFrames(actions).map(\.kind)
            #expect(kinds == [.auth] || kinds == [.reject])
            if kinds == [.auth] {
                let auth = ClusterFrame(
                    kind: .auth,
                    payload: ByteBuffer(bytes: (0..<32).map { _ in UInt8(truncatingIfNeeded: random.next()) }))
                expectRejected(a.received(auth), .wrongCookie)
            }
            #expect(!a.isEstablished)
        }
    }

    @Test(arguments: [FrameKind.call, .reply, .heartbeat, .gossip, .leave, FrameKind(rawValue: 200)])
    func unexpectedFrameBeforeEstablishedFails(kind: FrameKind) {
        var a = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 1)
        _ = a.start()
        expectRejected(
            a.received(ClusterFrame(kind: kind, payload: ByteBuffer(bytes: [1, 2, 3]))), .unexpectedFrame(kind))

        var b = machine(configuration("beta"), local: "cert-b", peer: "cert-a", nonceSeed: 2)
        _ = b.start()
        #expect(sentFrames(b.received(ClusterFrame(kind: .hello, payload: helloPayload()))).map(\.kind) == [.auth])
        expectRejected(b.received(ClusterFrame(kind: kind, payload: ByteBuffer())), .unexpectedFrame(kind))
        #expect(!b.isEstablished)
        #expect(b.received(ClusterFrame(kind: .auth, payload: ByteBuffer(repeating: 0, count: 32))) == [])
    }

    @Test func protocolOrderViolations() {
        var a = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 1)
        _ = a.start()
        expectRejected(
            a.received(ClusterFrame(kind: .auth, payload: ByteBuffer(repeating: 0, count: 32))), .authBeforeHello)

        var b = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 1)
        _ = b.start()
        _ = b.received(ClusterFrame(kind: .hello, payload: helloPayload()))
        expectRejected(b.received(ClusterFrame(kind: .hello, payload: helloPayload())), .duplicateHello)

        var c = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 1)
        _ = c.start()
        expectRejected(
            c.received(ClusterFrame(kind: .hello, compressed: true, payload: helloPayload())), .malformed(.hello))
    }

    @Test func frameBeforeStartStartsTheHandshake() {
        var a = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 1)
        let actions = a.received(ClusterFrame(kind: .hello, payload: helloPayload()))
        #expect(sentFrames(actions).map(\.kind) == [.hello, .auth])
        #expect(a.start() == [])
    }

    @Test func connectionToSelfFails() {
        var a = machine(configuration("alpha", incarnation: 3), local: "cert-a", peer: "cert-a", nonceSeed: 1)
        let hello = sentFrames(a.start())[0]
        expectRejected(a.received(hello), .selfConnection)

        // Same node ID, different nonce (e.g. a second socket to ourselves).
        var b = machine(configuration("alpha", incarnation: 3), local: "cert-a", peer: "cert-a", nonceSeed: 1)
        _ = b.start()
        expectRejected(
            b.received(ClusterFrame(kind: .hello, payload: helloPayload(name: "alpha", incarnation: 3, nonceSeed: 50))),
            .selfConnection)

        // Same name, different incarnation: a restarted node, allowed.
        var c = machine(configuration("alpha", incarnation: 3), local: "cert-a", peer: "cert-a", nonceSeed: 1)
        _ = c.start()
        #expect(
            sentFrames(c.received(ClusterFrame(kind: .hello, payload: helloPayload(name: "alpha", incarnation: 4))))
                .map(\.kind) == [.auth])
    }

    @Test func badMagicFails() {
        for magic in ["STRM", "strl", "\0\0\0\0", "MQTT"] {
            var payload = helloPayload()
            payload.setBytes(Array(magic.utf8), at: payload.readerIndex)
            var a = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 1)
            _ = a.start()
            expectRejected(a.received(ClusterFrame(kind: .hello, payload: payload)), .badMagic)
        }
    }

    @Test func majorVersionMismatchFailsAndNewerMinorIsAccepted() {
        for major: UInt16 in [0, 1, 2, 4, 0xFFFF] {
            var a = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 1)
            _ = a.start()
            let payload = helloPayload {
                $0.major = major
                $0.minor = 3
            }
            expectRejected(
                a.received(ClusterFrame(kind: .hello, payload: payload)), .incompatibleVersion(major: major, minor: 3))
        }
        // A newer major's hello may have any layout after the version: only the version is read.
        var a = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 1)
        _ = a.start()
        var short = ByteBuffer(bytes: Array("STRL".utf8))
        short.writeInteger(UInt16(4))
        short.writeInteger(UInt16(0))
        expectRejected(a.received(ClusterFrame(kind: .hello, payload: short)), .incompatibleVersion(major: 4, minor: 0))

        // Trailing bytes: accepted from a newer minor version, malformed from the same one.
        for (minor, accepted) in [(UInt16(1), true), (0, false)] {
            var payload = helloPayload { $0.minor = minor }
            payload.writeBytes([1, 2, 3])
            var b = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 1)
            _ = b.start()
            let actions = b.received(ClusterFrame(kind: .hello, payload: payload))
            if accepted {
                #expect(sentFrames(actions).map(\.kind) == [.auth])
            } else {
                expectRejected(actions, .malformed(.hello))
            }
        }
    }

    @Test func newerMinorVersionPeerEstablishes() {
        // The peer's MAC covers its hello bytes as sent, including fields we don't understand.
        let config = configuration("alpha")
        var a = machine(config, local: "cert-a", peer: "cert-b", nonceSeed: 1)
        let helloA = sentFrames(a.start())[0]
        var peerHello = helloPayload { $0.minor = 4 }
        peerHello.writeBytes([0xAA, 0xBB])
        let decoded = try! HandshakeHello.decode(peerHello)
        _ = a.received(ClusterFrame(kind: .hello, payload: peerHello))
        let tag = HandshakeAuthenticator.tag(
            cookie: ClusterCookie(goodCookie)!,
            sender: .init(node: decoded.node, nonce: decoded.nonce, binding: binding("cert-b"), hello: peerHello),
            receiver: .init(node: config.node, nonce: nonce(1), binding: binding("cert-a"), hello: helloA.payload))
        let actions = a.received(ClusterFrame(kind: .auth, payload: ByteBuffer(bytes: tag)))
        #expect(
            actions == [
                .established(
                    HandshakePeer(node: decoded.node, listen: decoded.listen, role: .broker, weight: 1, features: .lz4))
            ])
    }

    @Test func peerRejectSurfacesItsReason() {
        var a = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 1)
        _ = a.start()
        let reject = HandshakeReject(code: .incompatibleVersion, reason: "we speak 2.x").encoded
        #expect(
            a.received(ClusterFrame(kind: .reject, payload: reject)) == [
                .fail(.peerRejected(code: .incompatibleVersion, reason: "we speak 2.x"))
            ])
        #expect(a.received(ClusterFrame(kind: .hello, payload: helloPayload())) == [])

        // After our auth went out, with an unknown code and control characters in the text.
        var b = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 1)
        _ = b.start()
        _ = b.received(ClusterFrame(kind: .hello, payload: helloPayload()))
        var raw = ByteBuffer(bytes: [200, 0, 5])
        raw.writeBytes(Array("a\nb\u{1B}c".utf8))
        #expect(
            b.received(ClusterFrame(kind: .reject, payload: raw)) == [
                .fail(.peerRejected(code: HandshakeRejectCode(rawValue: 200), reason: "a?b?c"))
            ])

        // A malformed reject still ends the handshake, without a reply.
        var c = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 1)
        _ = c.start()
        #expect(
            c.received(ClusterFrame(kind: .reject, payload: ByteBuffer(bytes: [1, 0, 9, 65]))) == [
                .fail(.malformed(.reject))
            ])
    }

    @Test func timeoutFailsUntilEstablished() {
        var a = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 1)
        _ = a.start()
        expectRejected(a.timedOut(), .timedOut)
        #expect(a.timedOut() == [])
        #expect(a.received(ClusterFrame(kind: .hello, payload: helloPayload())) == [])

        var b = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 1)
        _ = b.start()
        _ = b.received(ClusterFrame(kind: .hello, payload: helloPayload()))
        expectRejected(b.timedOut(), .timedOut)
    }

    @Test func invalidNodeNameIsRejected() {
        var payload = helloPayload()
        payload.setBytes(Array("p/er".utf8), at: 9)
        var a = machine(configuration("alpha"), local: "cert-a", peer: "cert-b", nonceSeed: 1)
        _ = a.start()
        expectRejected(a.received(ClusterFrame(kind: .hello, payload: payload)), .invalidNodeName)
    }
}
