import Foundation
import MQTTCore
import NIOCore

/// MQTT over WebSocket by hand: the HTTP/1.1 upgrade, masked client frames built byte by byte (so a test decides
/// how packets are cut into frames), and the server's frames unwrapped into the MQTT decoder.
final class WebSocketConnection {
    /// The status line and headers of the server's HTTP response (header names lower-cased).
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    struct Frame: Equatable {
        var fin: Bool
        var opcode: UInt8
        var payload: [UInt8]
    }

    static let binary: UInt8 = 0x2
    static let text: UInt8 = 0x1
    static let continuation: UInt8 = 0x0
    static let close: UInt8 = 0x8
    static let ping: UInt8 = 0x9
    static let pong: UInt8 = 0xA

    /// The RFC 6455 example key and the accept value it must produce.
    static let sampleKey = "dGhlIHNhbXBsZSBub25jZQ=="
    static let sampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

    let raw: RawConnection
    let version: MQTTProtocolVersion
    private var mqttBytes = ByteBuffer()
    private var decoder: MQTTPacketDecoder
    private var closed = false

    private init(raw: RawConnection, version: MQTTProtocolVersion) {
        self.raw = raw
        self.version = version
        self.decoder = MQTTPacketDecoder(role: .client, version: version)
    }

    /// Connects to `port` and sends `GET <path>` with the upgrade headers (and `Sec-WebSocket-Protocol` when
    /// `subprotocol` is given). Returns the connection and the server's response head.
    static func open(
        port: Int, path: String = "/mqtt", subprotocol: String? = "mqtt", upgrade: Bool = true,
        version: MQTTProtocolVersion = .v5
    ) async throws -> (WebSocketConnection, Response) {
        let raw = try await RawConnection.open(port: port, version: version)
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
        if upgrade {
            request += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: \(sampleKey)\r\n"
            request += "Sec-WebSocket-Version: 13\r\n"
        }
        if let subprotocol { request += "Sec-WebSocket-Protocol: \(subprotocol)\r\n" }
        request += "\r\n"
        try await raw.send(bytes: Array(request.utf8))
        let head = try await raw.receive(within: .seconds(10), "the HTTP response") { buffer, _ -> String? in
            let bytes = Array(buffer.readableBytesView)
            guard let end = bytes.firstRange(of: [13, 10, 13, 10]) else { return nil }
            buffer.moveReaderIndex(forwardBy: end.upperBound)
            return String(decoding: bytes[..<end.lowerBound], as: UTF8.self)
        }
        guard let head else { throw Unexpected(expected: "an HTTP response", got: nil) }
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        var response = Response(status: statusLine.count > 1 ? Int(statusLine[1]) ?? 0 : 0, headers: [:], body: "")
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            response.headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let connection = WebSocketConnection(raw: raw, version: version)
        if response.status != 101, let length = response.headers["content-length"].flatMap(Int.init), length > 0 {
            let body = try await raw.receive(within: .seconds(10), "the HTTP body") { buffer, _ -> String? in
                buffer.readString(length: length)
            }
            response.body = body ?? ""
        }
        return (connection, response)
    }

    // MARK: Writing

    /// Writes one masked frame.
    func send(frame opcode: UInt8, fin: Bool = true, payload: [UInt8]) async throws {
        try await raw.send(bytes: Self.encode(opcode: opcode, fin: fin, payload: payload))
    }

    /// Writes several frames in one TCP write.
    func send(frames: [(opcode: UInt8, fin: Bool, payload: [UInt8])]) async throws {
        try await raw.send(bytes: frames.flatMap { Self.encode(opcode: $0.opcode, fin: $0.fin, payload: $0.payload) })
    }

    /// The bytes of `packet` as this connection's version encodes them.
    func bytes(of packet: MQTTPacket) -> [UInt8] {
        var buffer = ByteBuffer()
        packet.encode(version: version, into: &buffer)
        return Array(buffer.readableBytesView)
    }

    static func encode(opcode: UInt8, fin: Bool, payload: [UInt8]) -> [UInt8] {
        var frame: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        switch payload.count {
        case ..<126: frame.append(0x80 | UInt8(payload.count))
        case ..<65_536: frame += [0x80 | 126] + Wire.u16(payload.count)
        default:
            frame.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8(truncatingIfNeeded: payload.count >> shift)) }
        }
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return frame
    }

    // MARK: Reading

    /// The next frame from the server; nil when the TCP connection closed.
    func nextFrame(within timeout: Duration = .seconds(10)) async throws -> Frame? {
        try await raw.receive(within: timeout, "a WebSocket frame") { buffer, _ in Self.parseFrame(&buffer) }
    }

    /// The next MQTT packet carried in binary frames; nil once the server sent a close frame or closed the socket.
    func nextPacket(within timeout: Duration = .seconds(10)) async throws -> MQTTPacket? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let packet = try decoder.decodeNext(&mqttBytes) { return packet }
            if closed { return nil }
            guard let frame = try await nextFrame(within: deadline - ContinuousClock.now) else { return nil }
            switch frame.opcode {
            case Self.binary, Self.continuation: mqttBytes.writeBytes(frame.payload)
            case Self.close: closed = true
            default: continue
            }
        }
    }

    func expectPacket(within timeout: Duration = .seconds(10)) async throws -> MQTTPacket {
        guard let packet = try await nextPacket(within: timeout) else { throw Unexpected(expected: "a packet", got: nil) }
        return packet
    }

    /// Parses one server frame (unmasked) from the front of `buffer`; nil when it is not complete yet.
    static func parseFrame(_ buffer: inout ByteBuffer) -> Frame? {
        var view = buffer
        guard let first = view.readInteger(as: UInt8.self), let second = view.readInteger(as: UInt8.self) else {
            return nil
        }
        var length = Int(second & 0x7F)
        if length == 126 {
            guard let extended = view.readInteger(as: UInt16.self) else { return nil }
            length = Int(extended)
        } else if length == 127 {
            guard let extended = view.readInteger(as: UInt64.self) else { return nil }
            length = Int(extended)
        }
        var mask: [UInt8]?
        if second & 0x80 != 0 {
            guard let key = view.readBytes(length: 4) else { return nil }
            mask = key
        }
        guard var payload = view.readBytes(length: length) else { return nil }
        if let mask { payload = payload.enumerated().map { $0.element ^ mask[$0.offset % 4] } }
        buffer = view
        return Frame(fin: first & 0x80 != 0, opcode: first & 0x0F, payload: payload)
    }
}
