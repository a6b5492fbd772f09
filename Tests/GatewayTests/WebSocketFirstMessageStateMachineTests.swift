import MQTTCore
import NIOCore
import Testing

@testable import Gateway

/// The WebSocket first-message parser: client frames in (RFC 6455 section 5), need more / CONNECT / reject out.
@Suite("websocket first message")
struct WebSocketFirstMessageStateMachineTests {
    typealias Frames = WebSocketTestFrames
    typealias Machine = WebSocketFirstMessageStateMachine

    static let connect = FirstPacketStateMachineTests.connectBytes(.v5, clientID: "ws-client")
    static let expected = Machine.Outcome.connect(.init(clientID: "ws-client", version: .v5))
    /// SUBSCRIBE a/b QoS 1, packet ID 1 (v3.1.1 form; only carried, never parsed here).
    static let subscribe: [UInt8] = [0x82, 0x08, 0x00, 0x01, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x01]

    static func feed(_ chunks: [[UInt8]], maximumSize: Int = 65_536) -> (Machine, [Machine.Outcome]) {
        var machine = Machine(maximumSize: maximumSize)
        let outcomes = chunks.map { machine.receive(ByteBuffer(bytes: $0)) }
        return (machine, outcomes)
    }

    static func rejection(_ outcome: Machine.Outcome?) -> Machine.Rejection? {
        if case .reject(let rejection)? = outcome { return rejection }
        return nil
    }

    @Test("a CONNECT in one masked binary frame; every raw byte is kept")
    func oneFrame() {
        let frame = Frames.frame(Frames.binary, Self.connect)
        let (machine, outcomes) = Self.feed([frame])
        #expect(outcomes == [Self.expected])
        #expect(Array(machine.rawBytes.readableBytesView) == frame)
    }

    @Test("a CONNECT fragmented over binary + continuation frames, with a ping and a pong between them")
    func fragmentedWithControlFrames() {
        let frames = [
            Frames.frame(Frames.binary, fin: false, Array(Self.connect[..<3])),
            Frames.frame(Frames.ping, Array("hi".utf8)),
            Frames.frame(Frames.continuation, fin: false, Array(Self.connect[3..<9])),
            Frames.frame(Frames.pong, []),
            Frames.frame(Frames.continuation, fin: true, Array(Self.connect[9...])),
        ]
        let (machine, outcomes) = Self.feed(frames)
        #expect(outcomes == [.needMore, .needMore, .needMore, .needMore, Self.expected])
        #expect(Array(machine.rawBytes.readableBytesView) == frames.flatMap { $0 })
    }

    @Test("several packets in one frame: CONNECT and SUBSCRIBE; the verdict stays and later bytes are kept")
    func severalPacketsPerFrame() {
        let frame = Frames.frame(Frames.binary, Self.connect + Self.subscribe)
        let later = Frames.frame(Frames.binary, [0xC0, 0x00])
        let (machine, outcomes) = Self.feed([frame, later])
        #expect(outcomes == [Self.expected, Self.expected])
        #expect(Array(machine.rawBytes.readableBytesView) == frame + later)
    }

    @Test("the frames fed split at every byte boundary, and one byte at a time: need more until the CONNECT's last byte")
    func splitAtEveryBoundary() {
        let frames = [
            Frames.frame(Frames.binary, fin: false, Array(Self.connect[..<5])),
            Frames.frame(Frames.ping, [1, 2, 3]),
            Frames.frame(Frames.continuation, fin: true, Array(Self.connect[5...]), length: .sixteenBit),
        ].flatMap { $0 }
        for cut in 1..<frames.count {
            let (machine, outcomes) = Self.feed([Array(frames[..<cut]), Array(frames[cut...])])
            #expect(outcomes == [.needMore, Self.expected], "cut at \(cut)")
            #expect(Array(machine.rawBytes.readableBytesView) == frames, "cut at \(cut)")
        }
        var machine = Machine(maximumSize: 65_536)
        for (index, byte) in frames.enumerated() {
            let outcome = machine.receive(ByteBuffer(bytes: [byte]))
            #expect(outcome == (index == frames.count - 1 ? Self.expected : .needMore), "byte \(index)")
        }
    }

    @Test("16-bit and 64-bit payload lengths, minimal and not")
    func extendedLengths() {
        // A CONNECT of 300+ bytes needs the 16-bit form.
        let longID = String(repeating: "x", count: 300)
        let medium = FirstPacketStateMachineTests.connectBytes(.v3_1_1, clientID: longID)
        let (_, mediumOutcomes) = Self.feed([Frames.frame(Frames.binary, medium)])
        #expect(mediumOutcomes == [.connect(.init(clientID: longID, version: .v3_1_1))])
        #expect(Frames.frame(Frames.binary, medium)[1] == 0x80 | 126)
        // A CONNECT of 70,000 bytes needs the 64-bit form.
        let hugeID = String(repeating: "y", count: 65_000)
        var properties = MQTTProperties()
        properties.userProperties = [MQTTUserProperty("pad", String(repeating: "z", count: 5_000))]
        let large = FirstPacketStateMachineTests.connectBytes(.v5, clientID: hugeID, properties: properties)
        #expect(large.count > 65_535)
        let largeFrame = Frames.frame(Frames.binary, large)
        #expect(largeFrame[1] == 0x80 | 127)
        let (_, largeOutcomes) = Self.feed([largeFrame], maximumSize: 100_000)
        #expect(largeOutcomes == [.connect(.init(clientID: hugeID, version: .v5))])
        // A short CONNECT in a (non-minimal) 64-bit length: accepted, as the node's decoder accepts it.
        let (_, wide) = Self.feed([Frames.frame(Frames.binary, Self.connect, length: .sixtyFourBit)])
        #expect(wide == [Self.expected])
    }

    @Test("an unmasked client frame is refused on its second byte (RFC 6455 5.1)")
    func unmaskedRefused() {
        let frame = Frames.frame(Frames.binary, Self.connect, mask: nil)
        let (machine, outcomes) = Self.feed([[frame[0]], [frame[1]]])
        #expect(outcomes[0] == .needMore)
        let rejection = Self.rejection(outcomes[1])
        #expect(rejection?.closeCode == Machine.CloseCode.protocolError)
        #expect(rejection?.response == nil)
        #expect(machine.rawBytes.readableBytes == 2)
    }

    @Test("an oversized length is refused as soon as the length field is complete, before the mask or payload")
    func oversizedRefusedBeforeBuffering() {
        // 64-bit length 2^40 with a limit of 1 KiB: refused after the 10 header bytes.
        var header: [UInt8] = [0x82, 0x80 | 127]
        for shift in stride(from: 56, through: 0, by: -8) { header.append(UInt8(truncatingIfNeeded: (1 << 40) >> shift)) }
        var machine = Machine(maximumSize: 1_024)
        for byte in header.dropLast() { #expect(machine.receive(ByteBuffer(bytes: [byte])) == .needMore) }
        let rejection = Self.rejection(machine.receive(ByteBuffer(bytes: [header.last!])))
        #expect(rejection?.closeCode == Machine.CloseCode.messageTooBig)
        // 16-bit length 1025 with a limit of 1024: refused after 4 bytes.
        let (_, sixteen) = Self.feed([[0x82, 0x80 | 126, 0x04], [0x01]], maximumSize: 1_024)
        #expect(sixteen[0] == .needMore)
        #expect(Self.rejection(sixteen[1])?.closeCode == Machine.CloseCode.messageTooBig)
        // 64-bit length with the top bit set: refused too.
        let (_, top) = Self.feed([[0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0]])
        #expect(Self.rejection(top[0]) != nil)
        // Exactly at the limit: accepted (the payload is awaited).
        let (_, fits) = Self.feed([[0x82, 0x80 | 126, 0x04, 0x00, 1, 2, 3, 4]], maximumSize: 1_024)
        #expect(fits == [.needMore])
    }

    @Test("a close frame ends it (1000); a text frame is refused (1003)")
    func closeAndText() {
        let (_, closed) = Self.feed([Frames.frame(Frames.close, [0x03, 0xE8])])
        #expect(Self.rejection(closed[0])?.closeCode == Machine.CloseCode.normal)
        let (_, closedLater) = Self.feed([
            Frames.frame(Frames.binary, fin: false, Array(Self.connect[..<4])), Frames.frame(Frames.close, []),
        ])
        #expect(closedLater[0] == .needMore)
        #expect(Self.rejection(closedLater[1])?.closeCode == Machine.CloseCode.normal)
        let (_, text) = Self.feed([Frames.frame(Frames.text, Self.connect)])
        #expect(Self.rejection(text[0])?.closeCode == Machine.CloseCode.unacceptableData)
    }

    @Test("frames the node would refuse are refused", arguments: [
        ("reserved bit set", [0x82 | 0x40, 0x80, 1, 2, 3, 4]),
        ("unknown opcode 3", [0x83, 0x80, 1, 2, 3, 4]),
        ("continuation outside a message", [0x80, 0x80, 1, 2, 3, 4]),
        ("fragmented ping", [0x09, 0x80, 1, 2, 3, 4]),
        ("ping longer than 125", [0x89, 0x80 | 126, 0, 126]),
    ] as [(String, [UInt8])])
    func protocolErrors(name: String, bytes: [UInt8]) {
        let (_, outcomes) = Self.feed([bytes])
        #expect(Self.rejection(outcomes[0])?.closeCode == Machine.CloseCode.protocolError, "\(name)")
    }

    @Test("a new binary frame inside a fragmented message is refused")
    func binaryInsideMessage() {
        let (_, outcomes) = Self.feed([
            Frames.frame(Frames.binary, fin: false, Array(Self.connect[..<4])),
            Frames.frame(Frames.binary, Array(Self.connect[4...])),
        ])
        #expect(outcomes[0] == .needMore)
        #expect(Self.rejection(outcomes[1])?.closeCode == Machine.CloseCode.protocolError)
    }

    @Test("a first packet that is not CONNECT is refused with no MQTT response")
    func notConnect() {
        let publish: [UInt8] = [0x30, 0x05, 0x00, 0x01, 0x61, 0x68, 0x69]
        let (_, outcomes) = Self.feed([Frames.frame(Frames.binary, publish)])
        let rejection = Self.rejection(outcomes[0])
        #expect(rejection != nil)
        #expect(rejection?.response == nil)
        #expect(rejection?.closeCode == Machine.CloseCode.protocolError)
    }

    @Test("a malformed v5 CONNECT gives the CONNACK 0x81 bytes, as the node would send")
    func malformedV5() {
        var bad = FirstPacketStateMachineTests.connectBytes(.v5, clientID: "bad")
        bad[9] |= 0x01  // the reserved connect flag
        let (_, outcomes) = Self.feed([Frames.frame(Frames.binary, bad)])
        let response = Self.rejection(outcomes[0])?.response
        #expect(response.map { Array($0.readableBytesView) } == [0x20, 0x03, 0x00, 0x81, 0x00])
    }

    @Test("pings without end before CONNECT are bounded")
    func overheadBounded() {
        var machine = Machine(maximumSize: 1_024, maximumOverhead: 1_000)
        let ping = Frames.frame(Frames.ping, Array(repeating: 7, count: 100))
        var outcome = Machine.Outcome.needMore
        var sent = 0
        while case .needMore = outcome, sent < 100 {
            outcome = machine.receive(ByteBuffer(bytes: ping))
            sent += 1
        }
        #expect(Self.rejection(outcome) != nil)
        #expect(sent * ping.count > 1_000 && (sent - 1) * ping.count <= 1_000)
    }
}
