import ClusterTransport
import Foundation
import NIOCore
import StarlingCLI

extension GatewayState {
    /// What applying a membership view changed.
    struct MembershipChange {
        /// Client connections of backends that went down or were removed: close them at once, so their clients
        /// reconnect to the new owners of their sessions.
        var closing: [any Channel] = []
        /// One line per backend that appeared, changed eligibility or weight, or went away, for the log.
        var notes: [String] = []
    }

    /// The backend a broker member offers, or nil when it announces no MQTT listener (yet).
    static func backend(of member: Member, override: Double?) -> Backend? {
        guard member.role == .broker, let mqtt = member.services.port(of: ServiceNames.mqtt) else { return nil }
        return Backend(
            name: member.id.name, host: member.endpoint.host, mqttPort: mqtt,
            wsPort: member.services.port(of: ServiceNames.webSocket) ?? 0,
            httpPort: member.services.port(of: ServiceNames.http) ?? 0, weight: override ?? member.weight)
    }

    /// Cluster mode: makes the backends those of `members` (the brokers that announce an MQTT port). A member that
    /// is down or removed, or no longer there, loses its client connections at once (the fast failover signal);
    /// a down member stays listed (ineligible) until it is removed. A new member starts healthy (its membership
    /// says it is up); the active checks take it out if it does not answer.
    func apply(members: [Member], at now: Date = Date()) -> MembershipChange {
        withRecords { records in
            var change = MembershipChange()
            var seen = Set<NodeName>()
            for member in members {
                let name = member.id.name
                let override = overrideWeight(for: name)
                guard member.status != .removed, let backend = Self.backend(of: member, override: override) else {
                    continue
                }
                seen.insert(name)
                guard var record = records[name] else {
                    var record = BackendRecord(
                        backend: backend, weightSource: override == nil ? .node : .override,
                        membership: member.status, rise: riseCount, fall: fallCount)
                    record.lastChange = now
                    records[name] = record
                    change.notes.append("backend added: \(backend) \(member.status)")
                    continue
                }
                let wasEligible = record.isEligible
                if record.backend != backend { change.notes.append("backend changed: \(backend)") }
                record.backend = backend
                record.membership = member.status
                if member.status >= .down, !record.proxied.isEmpty {
                    change.closing += record.proxied.values
                    record.proxied = [:]
                }
                if record.isEligible != wasEligible {
                    record.lastChange = now
                    change.notes.append("backend \(record.isEligible ? "eligible" : "ineligible"): \(name) \(member.status)")
                }
                records[name] = record
            }
            for (name, record) in records where !seen.contains(name) {
                change.closing += record.proxied.values
                records[name] = nil
                change.notes.append("backend removed: \(name)")
            }
            return change
        }
    }
}
