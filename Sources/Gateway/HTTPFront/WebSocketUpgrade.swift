import Crypto
import Foundation
import NIOHTTP1

/// The gateway's answer to a request for `/mqtt` (RFC 6455 section 4.2): pure, a request head in, a decision out.
///
/// The same requests are accepted as by a node's WebSocket listener (`WebSocketMQTT`): GET on `/mqtt` (any query),
/// HTTP/1.1 or later, `Upgrade: websocket`, a `Connection` header with the `upgrade` token, one
/// `Sec-WebSocket-Key` that is 16 bytes in base64, `Sec-WebSocket-Version: 13`, and the subprotocol `mqtt` (preferred)
/// or `mqttv3.1` among those offered. The gateway answers `101` itself, with the same accept value and subprotocol
/// the node computes, so the node's own `101` can be dropped when the connection is spliced.
enum WebSocketUpgrade {
    static let path = "/mqtt"
    /// In order of preference; the node accepts the same two.
    static let subprotocols = ["mqtt", "mqttv3.1"]
    static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// What to do with a request.
    enum Decision: Equatable, Sendable {
        /// Not a request for `/mqtt`: the gateway's other routes apply.
        case notMQTTPath
        /// Answer 101 with these values and carry on with WebSocket frames.
        case accept(Accepted)
        /// Refuse with `status`, a one-line text body and `headers`, then close.
        case refuse(status: HTTPResponseStatus, message: String, headers: [LocalResponse.Header])
    }

    struct Accepted: Equatable, Sendable {
        /// The `Sec-WebSocket-Accept` value.
        var accept: String
        /// The chosen `Sec-WebSocket-Protocol`.
        var subprotocol: String
    }

    /// Whether `uri` names `/mqtt` (the query is ignored).
    static func isMQTTPath(_ uri: String) -> Bool {
        uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) == path
    }

    static func decide(_ head: HTTPRequestHead) -> Decision {
        guard isMQTTPath(head.uri) else { return .notMQTTPath }
        let headers = head.headers
        let upgradeOffered = headers[canonicalForm: "upgrade"].contains { $0.lowercased() == "websocket" }
        let connectionUpgrade = headers[canonicalForm: "connection"].contains { $0.lowercased() == "upgrade" }
        guard upgradeOffered, connectionUpgrade else {
            return .refuse(
                status: .upgradeRequired, message: "MQTT over WebSocket: upgrade to websocket (subprotocol mqtt)",
                headers: [
                    .init(name: "Upgrade", value: "websocket"), .init(name: "Sec-WebSocket-Version", value: "13"),
                ])
        }
        guard head.method == .GET, head.version.major == 1, head.version.minor >= 1 else {
            return .refuse(status: .badRequest, message: "a WebSocket upgrade must be GET over HTTP/1.1", headers: [])
        }
        guard headers["sec-websocket-version"] == ["13"] else {
            return .refuse(
                status: .upgradeRequired, message: "unsupported WebSocket version (13 is)",
                headers: [.init(name: "Sec-WebSocket-Version", value: "13")])
        }
        let keys = headers["sec-websocket-key"]
        guard keys.count == 1, let key = keys.first.map({ $0.trimmingCharacters(in: .whitespaces) }),
            Data(base64Encoded: key)?.count == 16
        else {
            return .refuse(status: .badRequest, message: "missing or invalid Sec-WebSocket-Key", headers: [])
        }
        let offered = headers[canonicalForm: "sec-websocket-protocol"].map { String($0) }
        guard let chosen = subprotocols.first(where: offered.contains) else {
            return .refuse(
                status: .badRequest, message: "no supported subprotocol offered (mqtt or mqttv3.1)", headers: [])
        }
        return .accept(Accepted(accept: acceptValue(forKey: key), subprotocol: chosen))
    }

    /// `Sec-WebSocket-Accept` for `key`: base64(SHA-1(key + GUID)).
    static func acceptValue(forKey key: String) -> String {
        Data(Insecure.SHA1.hash(data: Data((key + guid).utf8))).base64EncodedString()
    }

    /// The `101 Switching Protocols` head for `accepted`.
    static func switchingProtocols(_ accepted: Accepted) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        headers.add(name: "Upgrade", value: "websocket")
        headers.add(name: "Connection", value: "Upgrade")
        headers.add(name: "Sec-WebSocket-Accept", value: accepted.accept)
        headers.add(name: "Sec-WebSocket-Protocol", value: accepted.subprotocol)
        return HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: headers)
    }

    /// The request to send to the node: the client's request line and headers as they came (same key, same offered
    /// subprotocols), serialised.
    static func serialize(_ head: HTTPRequestHead) -> String {
        var text = "\(head.method.rawValue) \(head.uri) HTTP/\(head.version.major).\(head.version.minor)\r\n"
        for (name, value) in head.headers { text += "\(name): \(value)\r\n" }
        return text + "\r\n"
    }
}
