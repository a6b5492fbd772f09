#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing

@testable import ClusterTransport

private func node(_ text: String) -> NodeName { NodeName(text)! }

private func candidates(_ weights: [Double]) -> [OwnershipCandidate] {
    weights.enumerated().map { OwnershipCandidate(name: node("broker-\($0.offset + 1)"), weight: $0.element) }
}

private let keys = (0..<100_000).map { "session/client-\($0)" }

/// The sanity buffer of the xxHash reference tests: byte i is the top byte of PRIME32 * PRIME64^i.
private let sanityBuffer: [UInt8] = {
    var generator: UInt64 = 2_654_435_761
    return (0..<2367).map { _ in
        defer { generator &*= 11_400_714_785_074_694_797 }
        return UInt8(generator >> 56)
    }
}()

@Suite struct OwnershipTests {
    /// xxHash64 test vectors: the reference's sanity checks (buffer length, seed) and well-known strings.
    @Test(arguments: [
        (0, 0, 0xEF46_DB37_51D8_E999), (0, 2_654_435_761, 0xAC75_FDA2_929B_17EF),
        (1, 0, 0xE934_A84A_DB05_2768), (1, 2_654_435_761, 0x5014_6076_43A9_B4C3),
        (14, 0, 0x8282_DCC4_994E_35C8), (14, 2_654_435_761, 0xC3BD_6BF6_3DEB_6DF0),
        (222, 0, 0xB641_AE8C_B691_C174), (222, 2_654_435_761, 0x20CB_8AB7_AE10_C14A),
        (31, 0, 0x299B_39A2_90E6_D783), (32, 0, 0x18B2_1649_2BB4_4B70), (33, 0, 0x55C8_DC3E_578F_5B59),
        (63, 0, 0xA9EF_BE0F_A0F3_F4E7), (64, 0, 0xEF55_8F8A_CAC2_B5CD), (100, 2_654_435_761, 0x4853_706D_C962_5CAE),
        (2367, 0, 0xA824_18DD_EC0E_A581),
    ] as [(Int, UInt64, UInt64)])
    func xxHash64SanityVectors(length: Int, seed: UInt64, expected: UInt64) {
        #expect(StableHasher.hash(sanityBuffer.prefix(length), seed: seed) == expected)
        #expect(StableHasher.hash(Array(sanityBuffer.prefix(length)), seed: seed) == expected)
    }

    @Test(arguments: [
        ("", 0xEF46_DB37_51D8_E999), ("a", 0xD24E_C4F1_A98C_6E5B), ("abc", 0x44BC_2CF5_AD77_0999),
        ("The quick brown fox jumps over the lazy dog", 0x0B24_2D36_1FDA_71BC),
    ] as [(String, UInt64)])
    func xxHash64StringVectors(text: String, expected: UInt64) {
        var hasher = StableHasher()
        hasher.combine(utf8: text)
        #expect(hasher.finalize() == expected)
    }

    /// Feeding the same bytes in random pieces, through every entry point, gives the one-shot hash.
    @Test func streamingMatchesOneShot() {
        var random = SeededRandom(seed: 42)
        for _ in 0..<300 {
            let length = Int.random(in: 0...200, using: &random)
            let bytes = Array(sanityBuffer[Int.random(in: 0...2000, using: &random)...].prefix(length))
            let expected = StableHasher.hash(bytes)
            var hasher = StableHasher()
            var index = 0
            while index < bytes.count {
                let count = Int.random(in: 0...min(40, bytes.count - index), using: &random)
                let piece = bytes[index..<index + count]
                switch Int.random(in: 0..<3, using: &random) {
                case 0: piece.forEach { hasher.combine($0) }
                case 1: piece.withUnsafeBytes { hasher.combine($0) }
                default: hasher.combine(piece.lazy.map { $0 })  // not contiguous: byte by byte
                }
                index += count
            }
            #expect(hasher.finalize() == expected)
        }
    }

    @Test func nameAndKeyAreCombinedWithASeparator() {
        let key = Array("bc".utf8)
        let hash = key.withUnsafeBytes { Ownership.hash(name: node("a"), key: $0) }
        #expect(hash == StableHasher.hash(Array("a\u{0}bc".utf8)))
        #expect(hash != Array("c".utf8).withUnsafeBytes { Ownership.hash(name: node("ab"), key: $0) })
        #expect(hash == 0x3293_BDC2_CFB0_86A7)
    }

    /// ln(u) is finite and negative over the whole range, matches the plain formula where `u` is exact, and grows
    /// with the hash across the switch to log1p at 2^52.
    @Test func logUnitIntervalCoversTheOpenInterval() {
        let scale = 9_007_199_254_740_992.0
        #expect(Ownership.logUnitInterval(0) == log(0.5 / scale))
        #expect(abs(Ownership.logUnitInterval(1 << 63) - log(0.5)) <= 1e-15)  // u = 0.5 + 2^-54
        let top = Ownership.logUnitInterval(.max)
        #expect(top < 0 && top.isFinite)
        #expect(abs(top - -0.5 / scale) <= 1e-30)
        let values = [UInt64(1) << 63 - 4096, 1 << 63 - 2048, 1 << 63, 1 << 63 + 2048, .max - 4096, .max]
            .map(Ownership.logUnitInterval)
        #expect(values == values.sorted())
        #expect(Set(values).count == values.count)
    }

    /// Fixed forever (computed once with an independent script over the reference libxxhash): a change of hash,
    /// separator or score formula changes these.
    @Test(arguments: [
        ("session/client-1", "broker-3"), ("session/client-2", "broker-3"), ("session/client-3", "broker-1"),
        ("retained/sensors/temp", "broker-1"), ("", "broker-2"),
    ])
    func primaryIsFixed(key: String, expected: String) {
        #expect(Ownership.primary(for: key, among: candidates([1, 1, 1])) == node(expected))
    }

    @Test func preferenceListIsFixedAndIndependentOfCandidateOrder() {
        let all = candidates([1, 2, 3, 1, 1])
        let list = Ownership.preferenceList(for: "session/client-7", among: all)
        #expect(list.map(\.rawValue) == ["broker-2", "broker-1", "broker-3", "broker-5", "broker-4"])
        var random = SeededRandom(seed: 9)
        for _ in 0..<10 {
            #expect(Ownership.preferenceList(for: "session/client-7", among: all.shuffled(using: &random)) == list)
        }
        for key in keys.prefix(2000) {
            #expect(Ownership.primary(for: key, among: all) == Ownership.preferenceList(for: key, among: all).first)
        }
    }

    @Test func emptyAndIneligibleCandidates() {
        #expect(Ownership.primary(for: "k", among: []) == nil)
        #expect(Ownership.preferenceList(for: "k", among: []).isEmpty)
        let bad = [0, -1, .nan, .infinity].map { OwnershipCandidate(name: node("bad"), weight: $0) }
        #expect(Ownership.primary(for: "k", among: bad) == nil)
        let good = OwnershipCandidate(name: node("good"), weight: 0.5)
        #expect(Ownership.preferenceList(for: "k", among: bad + [good]) == [good.name])
    }

    @Test func tiesBreakByName() {
        #expect(Ownership.precedes(1, node("a"), 1, node("b")))
        #expect(!Ownership.precedes(1, node("b"), 1, node("a")))
        #expect(Ownership.precedes(2, node("z"), 1, node("a")))
    }

    /// Shares within ±5% (relative) of weight shares. With 100k keys the binomial standard deviation of a share p
    /// is sqrt(p(1-p)/1e5), at most 0.15% absolute; the bound is over 5 of them for the smallest share (1/6).
    @Test(arguments: [[1, 1, 1], [1, 1, 1, 1, 1], [1, 2, 3], [0.5, 4, 1, 2.5]] as [[Double]])
    func sharesFollowWeights(weights: [Double]) {
        let all = candidates(weights)
        var counts: [NodeName: Int] = [:]
        for key in keys { counts[Ownership.primary(for: key, among: all)!, default: 0] += 1 }
        let total = weights.reduce(0, +)
        for candidate in all {
            let share = Double(counts[candidate.name] ?? 0) / Double(keys.count)
            let expected = candidate.weight / total
            #expect(abs(share - expected) <= 0.05 * expected, "\(candidate.name): \(share) vs \(expected)")
        }
    }

    /// Removing a node moves exactly its keys, each to its previous second choice.
    @Test(arguments: [([1, 1, 1], 1), ([1, 1, 1, 1, 1], 4), ([1, 2, 3], 2)] as [([Double], Int)])
    func removalMovesOnlyTheRemovedNodesKeys(weights: [Double], removed: Int) {
        let all = candidates(weights)
        let rest = all.filter { $0 != all[removed] }
        for key in keys {
            let before = Ownership.preferenceList(for: key, among: all)
            let after = Ownership.primary(for: key, among: rest)
            if before[0] == all[removed].name {
                #expect(after == before[1])
            } else if after != before[0] {
                Issue.record("\(key) moved from \(before[0]) to \(String(describing: after))")
            }
        }
    }

    /// Adding a node moves keys only to it, about its weight share of all keys. The moved fraction is binomial with
    /// p = w/(W+w) (0.25 for the 4th equal node); its standard deviation over 100k keys is ~0.14% absolute, and the
    /// tolerance (1% absolute) is about 7 of them.
    @Test(arguments: [([1, 1, 1], 1.0), ([1, 1, 1, 1, 1], 1.0), ([1, 2, 3], 2.0)] as [([Double], Double)])
    func additionMovesAboutItsShareOnlyToTheNewNode(weights: [Double], newWeight: Double) {
        let old = candidates(weights)
        let newcomer = OwnershipCandidate(name: node("broker-new"), weight: newWeight)
        var moved = 0
        for key in keys {
            let before = Ownership.primary(for: key, among: old)
            let after = Ownership.primary(for: key, among: old + [newcomer])
            if after != before {
                moved += 1
                #expect(after == newcomer.name)
            }
        }
        let expected = newWeight / (weights.reduce(0, +) + newWeight)
        #expect(abs(Double(moved) / Double(keys.count) - expected) <= 0.01)
    }

    @Test func candidateFromMember() {
        let member = Member(
            id: NodeID(name: node("b"), incarnation: Incarnation(rawValue: 9)), endpoint: Endpoint(host: "h", port: 1)!,
            weight: 3)
        #expect(OwnershipCandidate(member) == OwnershipCandidate(name: node("b"), weight: 3))
    }
}
