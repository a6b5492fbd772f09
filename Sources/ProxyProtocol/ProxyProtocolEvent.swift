import NIOCore

/// The user inbound event `ProxyProtocolDecoder` fires once the header is read, before any byte that followed it.
public enum ProxyProtocolEvent: Sendable, Hashable {
    /// The client's address as the proxy saw it. Nil for a LOCAL connection (the proxy's own, a health check, say)
    /// or an address family the header does not carry here: then the connection's own peer address stands.
    case source(SocketAddress?)
}
