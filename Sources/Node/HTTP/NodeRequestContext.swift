import Hummingbird
import NIOCore

/// The request context of the node's HTTP API: Hummingbird's core storage plus the client's address (for the
/// login throttle).
struct NodeRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The client's IP address, for throttling ("unknown" without one).
    var clientAddress: String { remoteAddress?.ipAddress ?? "unknown" }
}
