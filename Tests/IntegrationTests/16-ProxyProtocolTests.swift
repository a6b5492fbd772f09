import Foundation
import Testing

/// `Node --proxy-protocol`: the MQTT TCP listener expects a PROXY protocol v2 header first, takes the client's
/// address from it, and drops a connection that does not start with one. The header bytes are written out by hand
/// here, independently of `ProxyProtocolHeader`.
@Suite("16 PROXY protocol", .timeLimit(.minutes(1)))
struct ProxyProtocolTests {
    static let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    /// PROXY, TCP over IPv4, from 203.0.113.5:4242 to 127.0.0.1:`port`.
    static func proxyHeader(port: Int) -> [UInt8] {
        signature + [0x21, 0x11, 0x00, 0x0C] + [203, 0, 113, 5, 127, 0, 0, 1] + Wire.u16(4242) + Wire.u16(port)
    }

    static let localHeader = signature + [0x20, 0x00, 0x00, 0x00]

    static func connect(_ clientID: String) -> [UInt8] {
        Wire.packet(0x10, Wire.string("MQTT") + [0x04, 0x02] + Wire.u16(30) + Wire.string(clientID))
    }

    static let connAck: [UInt8] = [0x20, 0x02, 0x00, 0x00]

    @Test("a PROXY header then CONNECT: CONNACK, and the node logs the client's address from the header")
    func proxied() async throws {
        try await withNode(["--proxy-protocol"]) { node in
            let socket = try BlockingSocket(port: node.mqttPort)
            try socket.write(Self.proxyHeader(port: node.mqttPort) + Self.connect("pp-proxied"))
            #expect(try socket.read(exactly: 4) == Self.connAck)
            // A reserved packet type: the node logs "protocol error" with the connection's metadata, then closes.
            try socket.write([0x00, 0x00])
            try await waitUntil("the protocol error logged") {
                node.log.split(separator: "\n").contains { $0.contains("protocol error") }
            }
            let line = node.log.split(separator: "\n").first { $0.contains("protocol error") } ?? ""
            #expect(line.contains("mqtt/peer=[IPv4]203.0.113.5"))
            #expect(line.contains("4242"))
        }
    }

    @Test("a LOCAL header (a health check) then CONNECT: CONNACK; the socket's own address stands")
    func local() async throws {
        try await withNode(["--proxy-protocol"]) { node in
            let socket = try BlockingSocket(port: node.mqttPort)
            try socket.write(Self.localHeader + Self.connect("pp-local"))
            #expect(try socket.read(exactly: 4) == Self.connAck)
            try socket.write([0x00, 0x00])
            try await waitUntil("the protocol error logged") {
                node.log.split(separator: "\n").contains { $0.contains("protocol error") }
            }
            let line = node.log.split(separator: "\n").first { $0.contains("protocol error") } ?? ""
            #expect(line.contains("mqtt/peer=[IPv4]127.0.0.1"))
        }
    }

    @Test("a CONNECT without the header is dropped at once, and the refusal logged without the bytes")
    func missingHeader() async throws {
        try await withNode(["--proxy-protocol"]) { node in
            let socket = try BlockingSocket(port: node.mqttPort)
            try socket.write(Self.connect("pp-missing"))
            #expect(throws: BlockingSocket.Failure.self) { _ = try socket.read(exactly: 1) }
            try await waitUntil("the refusal logged") { node.log.contains("proxy protocol header refused") }
            #expect(node.log.contains("badSignature"))
            #expect(!node.log.contains("pp-missing"))
        }
    }

    @Test("without --proxy-protocol a header is not expected: the same bytes are refused as MQTT")
    func offByDefault() async throws {
        try await withNode { node in
            let socket = try BlockingSocket(port: node.mqttPort)
            try socket.write(Self.proxyHeader(port: node.mqttPort) + Self.connect("pp-off"))
            #expect(throws: BlockingSocket.Failure.self) { _ = try socket.read(exactly: 1) }
        }
    }

    @Test("Gateway --proxy-protocol in front of Node --proxy-protocol: the node sees the client's own address and port")
    func throughTheGateway() async throws {
        try await withNode(["--proxy-protocol"]) { node in
            let backend = "solo@127.0.0.1=127.0.0.1:\(node.mqttPort):0:0:1"
            try await withGateway(backends: [backend], extra: ["--proxy-protocol"]) { gateway in
                let socket = try BlockingSocket(port: gateway.port)
                try socket.write(Self.connect("pp-gateway"))
                #expect(try socket.read(exactly: 4) == Self.connAck)
                try socket.write([0x00, 0x00])
                try await waitUntil("the protocol error logged") {
                    node.log.split(separator: "\n").contains { $0.contains("protocol error") }
                }
                let line = node.log.split(separator: "\n").first { $0.contains("protocol error") } ?? ""
                #expect(line.contains("mqtt/peer=[IPv4]127.0.0.1:\(socket.localPort) "), "\(line)")
                #expect(line.contains("mqtt/proxy="))
            }
        }
    }
}
