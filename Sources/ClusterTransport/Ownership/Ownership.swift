#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A node that may own keys, with its relative capacity.
public struct OwnershipCandidate: Sendable, Hashable {
    public let name: NodeName
    /// Relative capacity; only candidates with a finite weight > 0 are ever chosen.
    public let weight: Double

    public init(name: NodeName, weight: Double = 1) {
        self.name = name
        self.weight = weight
    }

    /// The candidate for a member (its name and weight).
    public init(_ member: Member) {
        self.init(name: member.id.name, weight: member.weight)
    }
}

/// Who owns a key: weighted rendezvous (highest random weight) hashing.
///
/// Each candidate gets the score `-weight / ln(u)`, with `u = (m + 0.5) / 2^53` in (0, 1) and `m` the top 53 bits
/// of the xxHash64 (seed 0) of the candidate's *name* (never its incarnation, so a restarted node gets its keys
/// back), a 0x00 byte (which cannot occur in a `NodeName`) and the key's UTF-8 bytes. The highest score owns the
/// key; equal scores (practically impossible) fall to the smaller name. Removing a candidate moves only its keys,
/// each to its second choice; adding one moves to it only its fair share. A candidate's expected share is its weight
/// over the sum of weights.
///
/// Candidates should have distinct names; those with a weight that is not finite and > 0 are left out. No
/// allocation beyond the returned array.
public enum Ownership {
    /// All eligible candidates' names, best first.
    public static func preferenceList(for key: String, among candidates: [OwnershipCandidate]) -> [NodeName] {
        var key = key
        return key.withUTF8 { keyBytes in
            let keyBytes = UnsafeRawBufferPointer(keyBytes)
            return withUnsafeTemporaryAllocation(of: (score: Double, index: Int).self, capacity: candidates.count) {
                ranked in
                var count = 0
                for (index, candidate) in candidates.enumerated() where isEligible(candidate.weight) {
                    ranked[count] = (score(name: candidate.name, weight: candidate.weight, key: keyBytes), index)
                    count += 1
                }
                // Insertion sort: candidate lists are short, and it needs no scratch memory.
                if count > 1 {
                    for next in 1..<count {
                        let item = ranked[next]
                        var slot = next
                        while slot > 0,
                            precedes(item.score, candidates[item.index].name,
                                     ranked[slot - 1].score, candidates[ranked[slot - 1].index].name)
                        {
                            ranked[slot] = ranked[slot - 1]
                            slot -= 1
                        }
                        ranked[slot] = item
                    }
                }
                var result: [NodeName] = []
                result.reserveCapacity(count)
                for position in 0..<count { result.append(candidates[ranked[position].index].name) }
                return result
            }
        }
    }

    /// The owner of `key`: the first of `preferenceList(for:among:)`, or nil without an eligible candidate.
    public static func primary(for key: String, among candidates: [OwnershipCandidate]) -> NodeName? {
        var key = key
        return key.withUTF8 { keyBytes in
            let keyBytes = UnsafeRawBufferPointer(keyBytes)
            var best: (score: Double, name: NodeName)?
            for candidate in candidates where isEligible(candidate.weight) {
                let score = score(name: candidate.name, weight: candidate.weight, key: keyBytes)
                if let current = best, !precedes(score, candidate.name, current.score, current.name) { continue }
                best = (score, candidate.name)
            }
            return best?.name
        }
    }

    /// `candidate`'s weighted rendezvous score for `key`: the value `preferenceList(for:among:)` ranks candidates by
    /// (highest first; equal scores fall to the smaller name). `-infinity` for a weight that is not finite and > 0:
    /// such a candidate is never chosen.
    public static func score(for key: String, candidate: OwnershipCandidate) -> Double {
        guard isEligible(candidate.weight) else { return -.infinity }
        var key = key
        return key.withUTF8 { score(name: candidate.name, weight: candidate.weight, key: UnsafeRawBufferPointer($0)) }
    }

    /// Whether a candidate with `score` and `name` ranks before one with `otherScore` and `otherName`.
    static func precedes(_ score: Double, _ name: NodeName, _ otherScore: Double, _ otherName: NodeName) -> Bool {
        score != otherScore ? score > otherScore : name < otherName
    }

    static func isEligible(_ weight: Double) -> Bool { weight.isFinite && weight > 0 }

    /// The xxHash64 of `name`, 0x00, `key`.
    static func hash(name: NodeName, key: UnsafeRawBufferPointer) -> UInt64 {
        var hasher = StableHasher()
        hasher.combine(utf8: name.rawValue)
        hasher.combine(UInt8(0))
        hasher.combine(key)
        return hasher.finalize()
    }

    /// `ln(u)` for `u = (m + 0.5) / 2^53` with `m` the top 53 bits of the hash, so `u` is in (0, 1).
    ///
    /// Evaluated without rounding `u` itself: for `m >= 2^52`, `m + 0.5` is not representable and the largest `m`
    /// would round `u` to 1 (score -infinity); there `ln(u) = log1p(-(2^53 - m - 0.5) / 2^53)`, exact inputs.
    static func logUnitInterval(_ hash: UInt64) -> Double {
        let m = hash >> 11
        let scale = 9_007_199_254_740_992.0  // 2^53
        if m < 1 << 52 { return log((Double(m) + 0.5) / scale) }
        return log1p(-(Double((1 << 53) - m) - 0.5) / scale)
    }

    static func score(name: NodeName, weight: Double, key: UnsafeRawBufferPointer) -> Double {
        -weight / logUnitInterval(hash(name: name, key: key))
    }
}
