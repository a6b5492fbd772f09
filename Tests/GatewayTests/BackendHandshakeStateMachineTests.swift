import NIOCore
import Testing

@testable import Gateway

/// Reading the node's answer to the forwarded upgrade request.
@Suite("backend handshake")
struct BackendHandshakeStateMachineTests {
    static let response = Array(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n".utf8)

    @Test("101 in one piece; the bytes after the head are handed back")
    func upgraded() {
        var machine = BackendHandshakeStateMachine()
        let outcome = machine.receive(ByteBuffer(bytes: Self.response + [0x82, 0x00]))
        #expect(outcome == .upgraded(rest: ByteBuffer(bytes: [0x82, 0x00])))
    }

    @Test("101 split at every byte boundary")
    func split() {
        for cut in 1..<Self.response.count {
            var machine = BackendHandshakeStateMachine()
            #expect(machine.receive(ByteBuffer(bytes: Self.response[..<cut])) == .needMore, "cut \(cut)")
            #expect(machine.receive(ByteBuffer(bytes: Self.response[cut...])) == .upgraded(rest: ByteBuffer()), "cut \(cut)")
        }
    }

    @Test("any other status is refused", arguments: ["HTTP/1.1 400 Bad Request", "HTTP/1.1 200 OK", "SSH-2.0-x", "HTTP/1.1 1010"])
    func refused(statusLine: String) {
        var machine = BackendHandshakeStateMachine()
        guard case .refused = machine.receive(ByteBuffer(string: statusLine + "\r\nX: y\r\n\r\n")) else {
            Issue.record("\(statusLine) accepted")
            return
        }
    }

    @Test("a head longer than the bound is refused without waiting for its end")
    func bounded() {
        var machine = BackendHandshakeStateMachine(maximumSize: 64)
        #expect(machine.receive(ByteBuffer(string: "HTTP/1.1 101 Switching Protocols\r\n")) == .needMore)
        guard case .refused = machine.receive(ByteBuffer(string: "X-Long: " + String(repeating: "a", count: 40))) else {
            Issue.record("not refused")
            return
        }
    }
}
