import NIOCore
import Synchronization

/// The IO side of `AdmissionControl`: decides for each accepted client channel, counts refusals in the gateway's
/// figures, and gives the slot back when an admitted channel closes. Shared by the MQTT and HTTP listeners.
final class ConnectionAdmission: Sendable {
    private let control: Mutex<AdmissionControl>
    private let state: GatewayState

    init(configuration: AdmissionControl.Configuration, state: GatewayState) {
        control = Mutex(AdmissionControl(configuration: configuration))
        self.state = state
    }

    /// Client connections admitted and not closed yet.
    var open: Int { control.withLock { $0.open } }

    /// Admits `channel`, or throws `ConnectionRefused` (the bootstrap then closes it before any handler runs).
    func admit(_ channel: any Channel) throws {
        let address = channel.remoteAddress?.ipAddress ?? "unknown"
        switch control.withLock({ $0.admit(address: address, now: .now()) }) {
        case .admit:
            channel.closeFuture.whenComplete { [self] _ in control.withLock { $0.closed() } }
        case .refuse(let reason):
            state.countRejected(reason.rawValue)
            throw ConnectionRefused(reason: reason)
        }
    }
}

/// A client connection refused by `ConnectionAdmission`.
struct ConnectionRefused: Error, CustomStringConvertible {
    var reason: AdmissionControl.Reason
    var description: String { "connection refused: \(reason.rawValue)" }
}
