import NIOCore
import Testing

@testable import Gateway

/// The frames the gateway writes itself, read back with the test's frame parser.
@Suite("websocket server frames")
struct WebSocketServerFrameTests {
    @Test("binary frames in the 7-, 16- and 64-bit length forms, unmasked and final", arguments: [0, 5, 125, 126, 65_535, 65_536])
    func binary(size: Int) {
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0) }
        var frame = WebSocketServerFrame.binary(ByteBuffer(bytes: payload))
        let header = size < 126 ? 2 : size < 65_536 ? 4 : 10
        #expect(frame.readableBytes == header + size)
        let parsed = WebSocketTestFrames.parseServerFrame(&frame)
        #expect(parsed == .init(fin: true, opcode: WebSocketTestFrames.binary, payload: payload))
        #expect(frame.readableBytes == 0)
    }

    @Test("a close frame carries its status code")
    func close() {
        var frame = WebSocketServerFrame.close(code: 1002)
        #expect(WebSocketTestFrames.parseServerFrame(&frame) == .init(fin: true, opcode: 0x8, payload: [0x03, 0xEA]))
    }
}
