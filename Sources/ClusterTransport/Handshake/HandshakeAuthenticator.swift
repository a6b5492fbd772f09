import Crypto
import NIOCore

/// Computes and checks the `auth` MAC: HMAC-SHA256 keyed with the cookie over
/// `label ‖ senderNonce ‖ receiverNonce ‖ senderName ‖ senderIncarnation ‖ receiverName ‖
/// receiverIncarnation ‖ senderBinding ‖ receiverBinding ‖ senderHello ‖ receiverHello`, where every
/// variable-length field is prefixed with its `u32` big-endian length and incarnations are `u64` big-endian.
/// The hellos are the exact payload bytes, so the MAC also authenticates everything each side announced.
enum HandshakeAuthenticator {
    static let label = Array("starling-cluster-auth-v1".utf8)

    /// One side of the handshake as the MAC sees it.
    struct Party {
        var node: NodeID
        var nonce: [UInt8]
        /// SHA-256 of the public key of the certificate this side presented.
        var binding: [UInt8]
        /// This side's hello payload, as sent.
        var hello: ByteBuffer
    }

    static func message(sender: Party, receiver: Party) -> [UInt8] {
        var buffer = ByteBufferAllocator().buffer(capacity: 512)
        func field(_ bytes: some Collection<UInt8>) {
            buffer.writeInteger(UInt32(bytes.count))
            buffer.writeBytes(bytes)
        }
        field(label)
        field(sender.nonce)
        field(receiver.nonce)
        field(sender.node.name.rawValue.utf8)
        buffer.writeInteger(sender.node.incarnation.rawValue)
        field(receiver.node.name.rawValue.utf8)
        buffer.writeInteger(receiver.node.incarnation.rawValue)
        field(sender.binding)
        field(receiver.binding)
        field(sender.hello.readableBytesView)
        field(receiver.hello.readableBytesView)
        return Array(buffer.readableBytesView)
    }

    static func tag(cookie: ClusterCookie, sender: Party, receiver: Party) -> [UInt8] {
        let key = SymmetricKey(data: cookie.bytes)
        return Array(HMAC<SHA256>.authenticationCode(for: message(sender: sender, receiver: receiver), using: key))
    }

    /// Constant-time check of a peer's tag.
    static func isValid(_ tag: [UInt8], cookie: ClusterCookie, sender: Party, receiver: Party) -> Bool {
        let key = SymmetricKey(data: cookie.bytes)
        return HMAC<SHA256>.isValidAuthenticationCode(
            tag, authenticating: message(sender: sender, receiver: receiver), using: key)
    }
}
