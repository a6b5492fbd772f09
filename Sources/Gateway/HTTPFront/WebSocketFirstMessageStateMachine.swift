import MQTTCore
import NIOCore

/// Reads a WebSocket client's frames (RFC 6455) until the MQTT bytes they carry hold a complete first packet, and
/// says whether it is a CONNECT.
///
/// Pure: bytes in, a verdict out; no IO and no clock (the shell enforces `--connect-timeout`). Frames are parsed
/// incrementally, a header byte at a time if need be, and binary/continuation payloads are unmasked as they arrive
/// and fed to a `FirstPacketStateMachine`, so one MQTT packet may span several frames and one frame may hold several
/// packets. Pings and pongs may be interleaved (they are kept for the backend, which answers them). A close frame or
/// a text frame ends it, as does any frame the node itself would refuse: unmasked, reserved bits set, an unknown
/// opcode, a fragmented or oversized control frame, a continuation outside a message or a new message inside one.
/// An unmasked frame is refused on its second byte and an oversized length as soon as the length field is complete,
/// before any of the payload is read.
///
/// Every byte received is kept in `rawBytes`, so the shell can replay the frames themselves to the backend.
struct WebSocketFirstMessageStateMachine {
    typealias Connect = FirstPacketStateMachine.Connect

    /// Why the client is refused and how to tell it.
    struct Rejection: Equatable, Sendable {
        var reason: String
        /// An encoded MQTT CONNACK to send (in a binary frame) before closing; nil: no MQTT answer.
        var response: ByteBuffer?
        /// The status code of the close frame (RFC 6455 section 7.4.1).
        var closeCode: UInt16
    }

    enum Outcome: Equatable, Sendable {
        case needMore
        /// A whole, valid CONNECT arrived; `rawBytes` holds the frames that carried it and anything after them.
        case connect(Connect)
        case reject(Rejection)
    }

    /// Close codes used here (RFC 6455 section 7.4.1).
    enum CloseCode {
        static let normal: UInt16 = 1000
        static let protocolError: UInt16 = 1002
        static let unacceptableData: UInt16 = 1003
        static let messageTooBig: UInt16 = 1009
    }

    /// Every byte received so far, in order, frame headers and all.
    private(set) var rawBytes: ByteBuffer
    private var packets: FirstPacketStateMachine
    private let maximumFrameSize: Int
    private let maximumOverhead: Int
    private var mqttByteCount = 0
    /// Inside a fragmented binary message (its last frame not read yet).
    private var inMessage = false
    private var parse = Parse.header([])
    private var outcome = Outcome.needMore

    private enum Parse {
        /// The header bytes read so far (2 to 14 make a header).
        case header([UInt8])
        case payload(Payload)
    }

    private struct Payload {
        var remaining: UInt64
        var mask: [UInt8]
        /// Payload bytes of this frame read so far (the mask index).
        var offset = 0
        var carriesMQTT: Bool
    }

    /// - Parameters:
    ///   - maximumSize: the largest first MQTT packet accepted (`--connect-buffer`).
    ///   - maximumFrameSize: the largest data frame payload accepted before the verdict; nil: `maximumSize`.
    ///   - maximumOverhead: how many bytes that are not MQTT (frame headers, pings, pongs) may come before the
    ///     verdict, bounding what a client can make the gateway keep with empty or control frames.
    init(maximumSize: Int, maximumFrameSize: Int? = nil, maximumOverhead: Int = 16_384) {
        rawBytes = ByteBuffer()
        packets = FirstPacketStateMachine(maximumSize: maximumSize)
        self.maximumFrameSize = maximumFrameSize ?? maximumSize
        self.maximumOverhead = maximumOverhead
    }

    /// Adds `bytes` and returns the verdict. Once it is `connect` or `reject` it does not change: further bytes are
    /// only appended to `rawBytes`.
    mutating func receive(_ bytes: ByteBuffer) -> Outcome {
        rawBytes.writeImmutableBuffer(bytes)
        guard case .needMore = outcome else { return outcome }
        var input = bytes
        while input.readableBytes > 0, case .needMore = outcome {
            switch parse {
            case .header(var header):
                let wanted = Self.headerLength(header)
                let count = min(wanted - header.count, input.readableBytes)
                header += input.readBytes(length: count) ?? []
                parse = .header(header)
                if header.count >= 2, let rejection = checkStart(header) ?? checkLength(header) {
                    outcome = .reject(rejection)
                } else if header.count == Self.headerLength(header) {
                    startPayload(header)
                }
            case .payload(var payload):
                let count = Int(min(payload.remaining, UInt64(input.readableBytes)))
                let slice = input.readSlice(length: count)!
                if payload.carriesMQTT {
                    var unmasked = ByteBuffer()
                    unmasked.reserveCapacity(count)
                    for (index, byte) in slice.readableBytesView.enumerated() {
                        unmasked.writeInteger(byte ^ payload.mask[(payload.offset + index) & 3])
                    }
                    mqttByteCount += count
                    feed(unmasked)
                }
                payload.offset += count
                payload.remaining -= UInt64(count)
                parse = payload.remaining == 0 ? .header([]) : .payload(payload)
            }
        }
        if case .needMore = outcome, rawBytes.readableBytes - mqttByteCount > maximumOverhead {
            outcome = .reject(Rejection(
                reason: "more than \(maximumOverhead) bytes of framing before CONNECT", response: nil,
                closeCode: CloseCode.protocolError))
        }
        return outcome
    }

    /// How many bytes the header starting with `header` has: 2 until the second byte is known.
    private static func headerLength(_ header: [UInt8]) -> Int {
        guard header.count >= 2 else { return 2 }
        switch header[1] & 0x7F {
        case 126: return 2 + 2 + 4
        case 127: return 2 + 8 + 4
        default: return 2 + 4
        }
    }

    /// Checks what the first two bytes say, before anything else is read; nil: acceptable so far.
    private func checkStart(_ header: [UInt8]) -> Rejection? {
        let fin = header[0] & 0x80 != 0
        let opcode = header[0] & 0x0F
        let shortLength = header[1] & 0x7F
        func refuse(_ reason: String, _ code: UInt16 = CloseCode.protocolError) -> Rejection {
            Rejection(reason: reason, response: nil, closeCode: code)
        }
        guard header[0] & 0x70 == 0 else { return refuse("reserved bits set (no extension was negotiated)") }
        guard header[1] & 0x80 != 0 else { return refuse("unmasked client frame") }
        switch opcode {
        case 0x0:
            return inMessage ? nil : refuse("continuation frame outside a message")
        case 0x1:
            return refuse("text frame (MQTT travels in binary frames)", CloseCode.unacceptableData)
        case 0x2:
            return inMessage ? refuse("binary frame inside a fragmented message") : nil
        case 0x8:
            return refuse("the client closed the WebSocket", CloseCode.normal)
        case 0x9, 0xA:
            guard fin, shortLength <= 125 else { return refuse("fragmented or oversized control frame") }
            return nil
        default:
            return refuse("unknown opcode \(opcode)")
        }
    }

    /// The payload length, once the length field is complete (before the mask); nil before.
    private static func payloadLength(_ header: [UInt8]) -> UInt64? {
        let short = UInt64(header[1] & 0x7F)
        switch short {
        case 126:
            guard header.count >= 4 else { return nil }
            return UInt64(header[2]) << 8 | UInt64(header[3])
        case 127:
            guard header.count >= 10 else { return nil }
            return header[2..<10].reduce(0) { $0 << 8 | UInt64($1) }
        default:
            return short
        }
    }

    /// Refuses a data frame longer than `maximumFrameSize` as soon as its length field is complete.
    private func checkLength(_ header: [UInt8]) -> Rejection? {
        let opcode = header[0] & 0x0F
        guard opcode == 0x0 || opcode == 0x2, let length = Self.payloadLength(header), length > UInt64(maximumFrameSize)
        else { return nil }
        return Rejection(
            reason: "frame of \(length) bytes exceeds \(maximumFrameSize) before CONNECT", response: nil,
            closeCode: CloseCode.messageTooBig)
    }

    /// The header is complete and accepted: starts the payload.
    private mutating func startPayload(_ header: [UInt8]) {
        let opcode = header[0] & 0x0F
        let fin = header[0] & 0x80 != 0
        let length = Self.payloadLength(header) ?? 0
        let carriesMQTT = opcode == 0x0 || opcode == 0x2
        if carriesMQTT { inMessage = !fin }
        let maskStart = Self.headerLength(header) - 4
        let mask = Array(header[maskStart..<maskStart + 4])
        parse = length == 0 ? .header([]) : .payload(Payload(remaining: length, mask: mask, carriesMQTT: carriesMQTT))
    }

    private mutating func feed(_ bytes: ByteBuffer) {
        switch packets.receive(bytes) {
        case .needMore:
            break
        case .connect(let connect):
            outcome = .connect(connect)
        case .reject(let rejection):
            outcome = .reject(Rejection(
                reason: rejection.reason, response: rejection.response, closeCode: CloseCode.protocolError))
        }
    }
}
