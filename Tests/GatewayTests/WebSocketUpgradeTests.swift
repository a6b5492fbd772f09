import NIOHTTP1
import Testing

@testable import Gateway

/// The gateway's own answer to `/mqtt` requests (RFC 6455 section 4.2.2), as the node's listener answers them.
@Suite("websocket upgrade")
struct WebSocketUpgradeTests {
    static let sampleKey = "dGhlIHNhbXBsZSBub25jZQ=="

    static func head(
        uri: String = "/mqtt", method: HTTPMethod = .GET, version: HTTPVersion = .http1_1,
        _ headers: [(String, String)]? = nil, protocols: String? = "mqtt"
    ) -> HTTPRequestHead {
        var fields = headers ?? [
            ("Host", "gw:8080"), ("Upgrade", "websocket"), ("Connection", "keep-alive, Upgrade"),
            ("Sec-WebSocket-Key", sampleKey), ("Sec-WebSocket-Version", "13"),
        ]
        if let protocols { fields.append(("Sec-WebSocket-Protocol", protocols)) }
        return HTTPRequestHead(version: version, method: method, uri: uri, headers: HTTPHeaders(fields))
    }

    static func status(_ decision: WebSocketUpgrade.Decision) -> HTTPResponseStatus? {
        if case .refuse(let status, _, _) = decision { return status }
        return nil
    }

    @Test("the accept value of RFC 6455's example key")
    func acceptValue() {
        #expect(WebSocketUpgrade.acceptValue(forKey: Self.sampleKey) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test("subprotocol choice: mqtt first, else mqttv3.1; lists and repeated headers both count", arguments: [
        ("mqtt", "mqtt"), ("mqttv3.1", "mqttv3.1"), ("mqttv3.1, mqtt", "mqtt"), ("foo,mqttv3.1", "mqttv3.1"),
    ])
    func subprotocols(offered: String, chosen: String) {
        let decision = WebSocketUpgrade.decide(Self.head(protocols: offered))
        #expect(decision == .accept(.init(accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", subprotocol: chosen)))
    }

    @Test("no acceptable subprotocol: 400")
    func noSubprotocol() {
        #expect(Self.status(WebSocketUpgrade.decide(Self.head(protocols: nil))) == .badRequest)
        #expect(Self.status(WebSocketUpgrade.decide(Self.head(protocols: "wamp, soap"))) == .badRequest)
    }

    @Test("the query is ignored; other paths are not /mqtt")
    func paths() {
        #expect(WebSocketUpgrade.decide(Self.head(uri: "/mqtt?token=abc")) != .notMQTTPath)
        for uri in ["/", "/mqtt/x", "/mqttx", "/api/mqtt", "/MQTT"] {
            #expect(WebSocketUpgrade.decide(Self.head(uri: uri)) == .notMQTTPath, "\(uri)")
        }
    }

    @Test("invalid upgrades of /mqtt are refused with 426 or 400")
    func refusals() {
        let base: [(String, String)] = [("Host", "gw"), ("Sec-WebSocket-Protocol", "mqtt")]
        // A plain GET: 426 with Upgrade: websocket.
        let plain = WebSocketUpgrade.decide(Self.head(base, protocols: nil))
        guard case .refuse(.upgradeRequired, _, let headers) = plain else {
            Issue.record("plain GET: \(plain)")
            return
        }
        #expect(headers.contains(.init(name: "Upgrade", value: "websocket")))
        let upgrade: [(String, String)] = [("Upgrade", "websocket"), ("Connection", "Upgrade")]
        // No Connection: upgrade.
        #expect(Self.status(WebSocketUpgrade.decide(Self.head(
            base + [("Upgrade", "websocket"), ("Sec-WebSocket-Key", Self.sampleKey), ("Sec-WebSocket-Version", "13")],
            protocols: nil))) == .upgradeRequired)
        // Wrong version.
        #expect(Self.status(WebSocketUpgrade.decide(Self.head(
            base + upgrade + [("Sec-WebSocket-Key", Self.sampleKey), ("Sec-WebSocket-Version", "8")],
            protocols: nil))) == .upgradeRequired)
        // Key missing, not base64, not 16 bytes, or twice.
        for keys in [[], ["not base64!"], ["c2hvcnQ="], [Self.sampleKey, Self.sampleKey]] {
            let fields = base + upgrade + [("Sec-WebSocket-Version", "13")] + keys.map { ("Sec-WebSocket-Key", $0) }
            #expect(Self.status(WebSocketUpgrade.decide(Self.head(fields, protocols: nil))) == .badRequest, "\(keys)")
        }
        // Not GET, or HTTP/1.0.
        #expect(Self.status(WebSocketUpgrade.decide(Self.head(method: .POST))) == .badRequest)
        #expect(Self.status(WebSocketUpgrade.decide(Self.head(version: .http1_0))) == .badRequest)
    }

    @Test("the 101 carries the accept value and the chosen subprotocol")
    func switchingProtocols() {
        let head = WebSocketUpgrade.switchingProtocols(.init(accept: "abc=", subprotocol: "mqttv3.1"))
        #expect(head.status == .switchingProtocols)
        #expect(head.headers["Sec-WebSocket-Accept"] == ["abc="])
        #expect(head.headers["Sec-WebSocket-Protocol"] == ["mqttv3.1"])
        #expect(head.headers["Upgrade"] == ["websocket"])
    }

    @Test("the request forwarded to the node is the client's: same line, same headers, same key")
    func serialize() {
        let head = Self.head(uri: "/mqtt?x=1")
        let text = WebSocketUpgrade.serialize(head)
        #expect(text.hasPrefix("GET /mqtt?x=1 HTTP/1.1\r\n"))
        #expect(text.hasSuffix("\r\n\r\n"))
        #expect(text.contains("Sec-WebSocket-Key: \(Self.sampleKey)\r\n"))
        #expect(text.contains("Connection: keep-alive, Upgrade\r\n"))
        #expect(text.components(separatedBy: "\r\n").count == 2 + head.headers.count + 1)
    }
}
