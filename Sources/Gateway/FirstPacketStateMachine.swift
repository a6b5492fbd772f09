import MQTTCore
import NIOCore

/// Collects a new client's bytes until its first MQTT packet is complete, and says whether it is a CONNECT.
///
/// Pure: bytes in, a verdict out; no IO and no clock (the IO layer enforces `--connect-timeout`). The packet is
/// parsed with MQTTCore's server-side decoder, so the gateway accepts exactly what a node accepts as a first packet:
/// a CONNECT of MQTT 3.1, 3.1.1 or 5.0. The declared size is checked against `maximumSize` as soon as the fixed
/// header's remaining length is readable, before the body is buffered; a first byte that is not CONNECT is refused
/// at once.
///
/// Every byte received is kept (including any that follow the CONNECT, such as a pipelined SUBSCRIBE) so that the
/// IO layer can replay all of it to the backend.
struct FirstPacketStateMachine {
    /// What the client's first packet said.
    struct Connect: Equatable, Sendable {
        /// The full client identifier (empty when the client left it to the server).
        var clientID: String
        var version: MQTTProtocolVersion
    }

    /// Why the client is refused, and what (if anything) to send it before closing.
    struct Rejection: Equatable, Sendable {
        var reason: String
        /// An encoded CONNACK refusing the client (a v5 client, or a v3 client with an unsupported protocol level),
        /// as the node itself would answer; nil: just close.
        var response: ByteBuffer?
    }

    enum Outcome: Equatable, Sendable {
        /// The first packet is not complete yet.
        case needMore
        /// A whole, valid CONNECT arrived; `bufferedBytes` holds it and anything after it.
        case connect(Connect)
        /// Not acceptable: close (after sending `response`, if any).
        case reject(Rejection)
    }

    /// Every byte received so far, in order.
    private(set) var bufferedBytes: ByteBuffer
    private var decoder: MQTTPacketDecoder
    private var outcome: Outcome = .needMore

    /// - Parameter maximumSize: the largest first packet accepted, fixed header included (`--connect-buffer`).
    init(maximumSize: Int, allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        bufferedBytes = allocator.buffer(capacity: 0)
        decoder = MQTTPacketDecoder(role: .server, maximumPacketSize: maximumSize)
    }

    /// Adds `bytes` and returns the verdict. Once the verdict is `connect` or `reject` it does not change: further
    /// bytes are only appended (to be replayed) and the same verdict is returned.
    mutating func receive(_ bytes: ByteBuffer) -> Outcome {
        var bytes = bytes
        bufferedBytes.writeBuffer(&bytes)
        guard case .needMore = outcome else { return outcome }
        var view = bufferedBytes  // the decoder consumes; the replay keeps everything
        do {
            switch try decoder.decodeNext(&view) {
            case nil:
                return .needMore
            case .connect(let connect)?:
                outcome = .connect(Connect(clientID: connect.clientID, version: connect.version))
            case let other?:
                // The decoder refuses a non-CONNECT first byte itself; this is a safety net.
                outcome = .reject(Rejection(reason: "first packet is \(other.kind), not CONNECT", response: nil))
            }
        } catch {
            outcome = .reject(Rejection(reason: error.description, response: Self.response(to: error)))
        }
        return outcome
    }

    /// The CONNACK a node would send for `error` before CONNECT was accepted, encoded; nil when it would just close.
    static func response(to error: MQTTProtocolError) -> ByteBuffer? {
        guard let version = error.version, let packet = error.response(version: version, afterConnect: false) else {
            return nil
        }
        var buffer = ByteBuffer()
        packet.encode(version: version, into: &buffer)
        return buffer
    }
}
