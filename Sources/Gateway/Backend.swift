import ClusterTransport

/// One broker node the gateway may send clients to, as given by `--backend NAME=HOST:MQTT:WS:HTTP:WEIGHT`.
///
/// `name` must be the node's own `--name`: session ownership hashes the node name, so a different name here would
/// send clients to a node that does not own their session. `wsPort` and `httpPort` serve the HTTP front (MQTT over
/// WebSocket, and the proxy to the nodes' HTTP API); 0 means "none".
struct Backend: Sendable, Hashable, CustomStringConvertible {
    var name: NodeName
    var host: String
    var mqttPort: Int
    var wsPort: Int
    var httpPort: Int
    /// Relative share of sessions; the same value as the node's `--weight`. Finite and > 0.
    var weight: Double

    var description: String { "\(name.rawValue)=\(host):\(mqttPort):\(wsPort):\(httpPort):\(weight)" }

    /// Parses `NAME=HOST:MQTT:WS:HTTP:WEIGHT`. HOST may be an IPv6 address in brackets (`[::1]`). Throws a message
    /// that says what is wrong with the value (the caller adds the flag name).
    static func parse(_ text: String) throws(BackendParseError) -> Backend {
        guard let equals = text.firstIndex(of: "=") else {
            throw BackendParseError("'\(text)' is not NAME=HOST:MQTT:WS:HTTP:WEIGHT (no '=')")
        }
        let nameText = String(text[..<equals])
        guard let name = NodeName(nameText) else {
            throw BackendParseError(
                "'\(nameText)' is not a valid node name (1-64 of A-Z a-z 0-9 . _ - @; use the node's --name)")
        }
        var rest = Substring(text[text.index(after: equals)...])
        let host: String
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw BackendParseError("'\(text)': unclosed '[' in HOST") }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            rest = rest[rest.index(after: close)...]
            guard rest.hasPrefix(":") else { throw BackendParseError("'\(text)': expected ':' after ']'") }
            rest = rest.dropFirst()
        } else {
            guard let colon = rest.firstIndex(of: ":") else {
                throw BackendParseError("'\(text)' is not NAME=HOST:MQTT:WS:HTTP:WEIGHT")
            }
            host = String(rest[..<colon])
            rest = rest[rest.index(after: colon)...]
        }
        guard !host.isEmpty else { throw BackendParseError("'\(text)': empty HOST") }
        let fields = rest.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 4 else {
            throw BackendParseError("'\(text)' is not NAME=HOST:MQTT:WS:HTTP:WEIGHT (need 4 fields after HOST)")
        }
        var ports: [Int] = []
        for (label, field) in zip(["MQTT", "WS", "HTTP"], fields) {
            guard let port = Int(field), (0...65_535).contains(port) else {
                throw BackendParseError("'\(text)': \(label) port '\(field)' is not 0...65535")
            }
            ports.append(port)
        }
        guard ports[0] > 0 else { throw BackendParseError("'\(text)': the MQTT port must not be 0") }
        guard let weight = Double(fields[3]), weight.isFinite, weight > 0 else {
            throw BackendParseError("'\(text)': WEIGHT '\(fields[3])' must be a number > 0")
        }
        return Backend(name: name, host: host, mqttPort: ports[0], wsPort: ports[1], httpPort: ports[2], weight: weight)
    }
}

/// What is wrong with a `--backend` value.
struct BackendParseError: Error, Equatable, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
