import Distributed
import Synchronization

/// Checks that a call's target is a distributed function of the recipient's own type before anything runs.
///
/// The `Distributed` runtime does not: a target of another actor type, sent by a buggy or malicious peer, makes
/// `executeDistributedTarget` call the wrong function on the recipient and crashes the process. A target is accepted
/// when its demangled name is `<recipient type>.<function>(…)`. Accepted pairs are cached; rejected ones are not, so
/// garbage cannot grow the cache.
final class TargetValidator: Sendable {
    private struct Pair: Hashable {
        let type: ObjectIdentifier
        let target: String
    }

    private let accepted = Mutex<Set<Pair>>([])
    static let maxIdentifierLength = 1024

    func isAllowed(_ target: String, on recipient: any DistributedActor) -> Bool {
        let actorType = type(of: recipient)
        let pair = Pair(type: ObjectIdentifier(actorType), target: target)
        if accepted.withLock({ $0.contains(pair) }) { return true }
        guard target.utf8.count <= Self.maxIdentifierLength, target.hasPrefix("$s"), target.hasSuffix("TE") else {
            return false
        }
        let demangled = RemoteCallTarget(target).description
        let owner = String(reflecting: actorType) + "."
        guard demangled != target, demangled.hasPrefix(owner) else { return false }
        // `Owner.function(labels:)`, not `Owner.Nested.function(…)`: no dot before the parameter list.
        let function = demangled.dropFirst(owner.count)
        guard let paren = function.firstIndex(of: "("), !function[..<paren].contains("."), !function.isEmpty else {
            return false
        }
        accepted.withLock { _ = $0.insert(pair) }
        return true
    }

    /// The targets accepted so far on actors of `type` (for tests that need a real target identifier).
    func acceptedTargets(on type: any DistributedActor.Type) -> [String] {
        accepted.withLock { $0.filter { $0.type == ObjectIdentifier(type) }.map(\.target) }
    }
}
