import Crypto
import NIOCore
import Testing

@testable import ClusterTransport

private let cookieText = String(repeating: "s3cret-cookie-", count: 4)

private func node(_ name: String, _ incarnation: UInt64) -> NodeID {
    NodeID(name: NodeName(name)!, incarnation: Incarnation(rawValue: incarnation))
}

private func nonce(_ seed: UInt8) -> [UInt8] { (0..<32).map { UInt8(truncatingIfNeeded: Int($0) &* 31 &+ Int(seed)) } }

private func helloPayload(edit: (inout HandshakeHello) -> Void = { _ in }) -> ByteBuffer {
    var hello = HandshakeHello(
        node: node("peer", 9), listen: Endpoint(host: "peer.local", port: 7400)!, role: .broker, weight: 1,
        features: .lz4, nonce: nonce(99))
    edit(&hello)
    return hello.encoded
}

/// Payload-level tests of the handshake messages and the cookie.
@Suite struct HandshakeMessagesTests {
    @Test func helloRoundTrips() throws {
        let hello = HandshakeHello(
            node: node("node-1.a_b", .max), listen: Endpoint(host: "::1", port: 65535)!, role: .gateway, weight: 0.25,
            features: HandshakeFeatures(rawValue: 0xFFFF_FFFF), nonce: nonce(3))
        let payload = hello.encoded
        #expect(try HandshakeHello.decode(payload) == hello)
        #expect(Array(payload.readableBytesView.prefix(8)) == Array("STRL".utf8) + [0, 3, 0, 0])
    }

    @Test func invalidHelloFieldsFail() {
        func expectFailure(_ payload: ByteBuffer, _ failure: HandshakeFailure, _ label: String) {
            #expect(throws: failure, "\(label)") { try HandshakeHello.decode(payload) }
        }
        var payload = helloPayload()
        payload.setBytes(Array("pe r".utf8), at: 9)
        expectFailure(payload, .invalidNodeName, "space in name")
        payload = helloPayload()
        payload.setBytes([0xFF], at: 9)
        expectFailure(payload, .invalidNodeName, "invalid UTF-8 name")
        let bytes = Array(helloPayload().readableBytesView)
        expectFailure(ByteBuffer(bytes: bytes[0..<8] + [0] + bytes[13...]), .invalidNodeName, "empty name")
        for weight in [Double.nan, .infinity, -.infinity, -1] {
            expectFailure(helloPayload { $0.weight = weight }, .malformed(.hello), "weight \(weight)")
        }
        payload = helloPayload()
        payload.setInteger(UInt8(9), at: payload.readableBytes - 32 - 4 - 8 - 1)
        expectFailure(payload, .malformed(.hello), "role 9")
        payload = helloPayload()
        payload.setInteger(UInt16(0), at: payload.readableBytes - 32 - 4 - 8 - 1 - 2)
        expectFailure(payload, .malformed(.hello), "port 0")
    }

    @Test func rejectReasonIsCutAtACharacterBoundary() throws {
        let long = String(repeating: "é", count: 200)  // 400 bytes
        let encoded = HandshakeReject(code: .malformed, reason: long).encoded
        let decoded = try HandshakeReject.decode(encoded)
        #expect(decoded.reason == String(repeating: "é", count: 128))
    }

    @Test func cookieLengthBoundsAndMasking() {
        #expect(ClusterCookie(String(repeating: "x", count: 31)) == nil)
        #expect(ClusterCookie(String(repeating: "x", count: 32)) != nil)
        #expect(ClusterCookie(String(repeating: "x", count: 1024)) != nil)
        #expect(ClusterCookie(String(repeating: "x", count: 1025)) == nil)
        #expect(ClusterCookie(String(repeating: "é", count: 16))?.length == 32)  // counted in UTF-8 bytes
        #expect(ClusterCookie(String(repeating: "é", count: 15)) == nil)

        let secret = String(repeating: "abcdefgh", count: 16)
        let cookie = ClusterCookie(secret)!
        #expect(cookie.description == "<cookie: 128 chars>")
        #expect(!"\(cookie)".contains("abcdefgh"))
        #expect(!String(reflecting: cookie).contains("abcdefgh"))
        var dumped = ""
        dump(cookie, to: &dumped)
        #expect(!dumped.contains("abcdefgh"))
        let config = HandshakeConfiguration(
            node: node("alpha", 1), listen: Endpoint(host: "a", port: 1)!, role: .broker, weight: 1, features: .lz4,
            cookie: cookie)
        #expect(!String(describing: config).contains("abcdefgh"))
    }

    @Test func authMessageFieldsAreLengthPrefixed() {
        let hello = ByteBuffer(bytes: [1])
        let sender = HandshakeAuthenticator.Party(node: node("ab", 1), nonce: nonce(1), binding: [1, 2], hello: hello)
        let receiver = HandshakeAuthenticator.Party(node: node("c", 1), nonce: nonce(2), binding: [3], hello: hello)
        // Moving a byte from one binding to the other must change the message.
        var shifted = sender
        shifted.binding = [1]
        var shiftedReceiver = receiver
        shiftedReceiver.binding = [2, 3]
        #expect(
            HandshakeAuthenticator.message(sender: sender, receiver: receiver)
                != HandshakeAuthenticator.message(sender: shifted, receiver: shiftedReceiver))
        let message = HandshakeAuthenticator.message(sender: sender, receiver: receiver)
        #expect(message.starts(with: [0, 0, 0, 24] + Array("starling-cluster-auth-v1".utf8)))
        // Direction matters: a reflected tag does not verify.
        let cookie = ClusterCookie(cookieText)!
        let tag = HandshakeAuthenticator.tag(cookie: cookie, sender: sender, receiver: receiver)
        #expect(tag.count == 32)
        #expect(HandshakeAuthenticator.isValid(tag, cookie: cookie, sender: sender, receiver: receiver))
        #expect(!HandshakeAuthenticator.isValid(tag, cookie: cookie, sender: receiver, receiver: sender))
    }
}

@Suite("Handshake reject reason bounds")
struct HandshakeRejectBoundsTests {
    /// Found by the cluster fuzzer (Fuzz/crashes-cluster/handshake-reject-reason-over-256-bytes): 0xFF bytes become
    /// U+FFFD (3 bytes each), so a reason cut to 256 raw bytes could surface as 768 bytes and not survive a round trip.
    @Test func invalidUTF8ReasonStaysWithinTheBoundAndRoundTrips() throws {
        var payload = ByteBuffer()
        payload.writeInteger(UInt8(6))
        payload.writeInteger(UInt16(86))
        payload.writeBytes([UInt8](repeating: 0xFF, count: 86))
        let reject = try HandshakeReject.decode(payload)
        #expect(reject.reason.utf8.count <= HandshakeReject.maxReasonBytes)
        #expect(try HandshakeReject.decode(reject.encoded) == reject)
    }
}

@Suite("Handshake message bounds")
struct HandshakeMessageBoundsTests {
    @Test func bidiOverridesAndSeparatorsInARejectReasonAreReplaced() throws {
        var payload = ByteBuffer()
        let text = Array("a\u{202E}b\u{2028}c\u{2029}d".utf8)
        payload.writeInteger(UInt8(6))
        payload.writeInteger(UInt16(text.count))
        payload.writeBytes(text)
        #expect(try HandshakeReject.decode(payload).reason == "a?b?c?d")
    }

    @Test func aHelloWeightAboveTheMemberBoundIsMalformed() throws {
        let node = NodeID(name: NodeName("w")!, incarnation: Incarnation(rawValue: 1))
        let hello = { (weight: Double) in
            HandshakeHello(
                node: node, listen: Endpoint(host: "127.0.0.1", port: 4370)!, role: .broker, weight: weight,
                features: [], nonce: [UInt8](repeating: 7, count: 32)
            ).encoded
        }
        #expect(try HandshakeHello.decode(hello(Member.maximumWeight)).weight == Member.maximumWeight)
        #expect(throws: HandshakeFailure.malformed(.hello)) { try HandshakeHello.decode(hello(Member.maximumWeight * 2)) }
    }
}
