import ClusterTransport
import Synchronization

/// Collects the ports the node's listeners actually bound and announces them in this node's cluster member record
/// (`ServiceNames`), so that a gateway member learns them from the membership.
final class ServiceAnnouncer: Sendable {
    private let system: ClusterSystem
    private let services = Mutex<[MemberService]>([])

    init(system: ClusterSystem) { self.system = system }

    /// Records that the listener `name` is bound to `port`, and gossips the updated record.
    func bound(_ name: String, port: Int) {
        guard let service = MemberService(name: name, port: port) else { return }
        let all = services.withLock { services in
            services.removeAll { $0.name == name }
            services.append(service)
            return services
        }
        system.updateLocalMember(services: all)
    }
}
