/// xxHash64 (XXH64), written out by hand so that the value of a hash is the same in every process, on every machine
/// and in every Swift version (unlike `Hasher`, which is seeded per process). Streaming: feed bytes with `combine`,
/// read the hash with `finalize`. No allocation.
public struct StableHasher: Sendable {
    @usableFromInline static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
    @usableFromInline static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    @usableFromInline static let prime3: UInt64 = 0x1656_67B1_9E37_79F9
    @usableFromInline static let prime4: UInt64 = 0x85EB_CA77_C2B2_AE63
    @usableFromInline static let prime5: UInt64 = 0x27D4_EB2F_1656_67C5

    @usableFromInline var seed: UInt64
    @usableFromInline var v1: UInt64
    @usableFromInline var v2: UInt64
    @usableFromInline var v3: UInt64
    @usableFromInline var v4: UInt64
    /// Bytes fed so far.
    @usableFromInline var total: UInt64 = 0
    /// Full 8-byte words of the current 32-byte stripe not yet processed (`pendingCount` of them, 0...3).
    @usableFromInline var word0: UInt64 = 0
    @usableFromInline var word1: UInt64 = 0
    @usableFromInline var word2: UInt64 = 0
    @usableFromInline var pendingCount: Int = 0
    /// Bytes of the current, incomplete word (little endian, `partialCount` of them, 0...7).
    @usableFromInline var partial: UInt64 = 0
    @usableFromInline var partialCount: Int = 0

    /// A hasher with the given seed (0 by default, as everywhere in this module).
    @inlinable
    public init(seed: UInt64 = 0) {
        self.seed = seed
        v1 = seed &+ Self.prime1 &+ Self.prime2
        v2 = seed &+ Self.prime2
        v3 = seed
        v4 = seed &- Self.prime1
    }

    /// The XXH64 hash of `bytes`.
    @inlinable
    public static func hash(_ bytes: some Sequence<UInt8>, seed: UInt64 = 0) -> UInt64 {
        var hasher = StableHasher(seed: seed)
        hasher.combine(bytes)
        return hasher.finalize()
    }

    /// Feeds one byte.
    @inlinable
    public mutating func combine(_ byte: UInt8) {
        partial |= UInt64(byte) &<< UInt64(8 &* partialCount)
        partialCount &+= 1
        total &+= 1
        if partialCount == 8 {
            push(partial)
            partial = 0
            partialCount = 0
        }
    }

    /// Feeds raw bytes.
    @inlinable
    public mutating func combine(_ bytes: UnsafeRawBufferPointer) {
        var index = 0
        let count = bytes.count
        while index < count {
            if partialCount == 0, count - index >= 8 {
                push(UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)))
                total &+= 8
                index &+= 8
            } else {
                combine(bytes[index])
                index &+= 1
            }
        }
    }

    /// Feeds a sequence of bytes (contiguous collections take the fast path).
    @inlinable
    public mutating func combine(_ bytes: some Sequence<UInt8>) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            combine(UnsafeRawBufferPointer(buffer))
        }
        if done == nil {
            for byte in bytes { combine(byte) }
        }
    }

    /// Feeds the UTF-8 bytes of a string (no copy for native strings).
    @inlinable
    public mutating func combine(utf8 string: String) {
        var string = string
        string.withUTF8 { combine(UnsafeRawBufferPointer($0)) }
    }

    @inlinable
    mutating func push(_ word: UInt64) {
        switch pendingCount {
        case 0: word0 = word
        case 1: word1 = word
        case 2: word2 = word
        default:
            v1 = Self.round(v1, word0)
            v2 = Self.round(v2, word1)
            v3 = Self.round(v3, word2)
            v4 = Self.round(v4, word)
            pendingCount = 0
            return
        }
        pendingCount &+= 1
    }

    /// The hash of everything fed so far (the hasher itself is left unchanged).
    @inlinable
    public func finalize() -> UInt64 {
        var hash: UInt64
        if total >= 32 {
            hash = Self.rotate(v1, 1) &+ Self.rotate(v2, 7) &+ Self.rotate(v3, 12) &+ Self.rotate(v4, 18)
            hash = Self.mergeRound(hash, v1)
            hash = Self.mergeRound(hash, v2)
            hash = Self.mergeRound(hash, v3)
            hash = Self.mergeRound(hash, v4)
        } else {
            hash = seed &+ Self.prime5
        }
        hash &+= total
        let words = (word0, word1, word2)
        for index in 0..<pendingCount {
            let word = index == 0 ? words.0 : index == 1 ? words.1 : words.2
            hash ^= Self.round(0, word)
            hash = Self.rotate(hash, 27) &* Self.prime1 &+ Self.prime4
        }
        var rest = partial
        var restCount = partialCount
        if restCount >= 4 {
            hash ^= (rest & 0xFFFF_FFFF) &* Self.prime1
            hash = Self.rotate(hash, 23) &* Self.prime2 &+ Self.prime3
            rest >>= 32
            restCount -= 4
        }
        while restCount > 0 {
            hash ^= (rest & 0xFF) &* Self.prime5
            hash = Self.rotate(hash, 11) &* Self.prime1
            rest >>= 8
            restCount -= 1
        }
        hash ^= hash >> 33
        hash &*= Self.prime2
        hash ^= hash >> 29
        hash &*= Self.prime3
        hash ^= hash >> 32
        return hash
    }

    @inlinable
    static func rotate(_ value: UInt64, _ bits: UInt64) -> UInt64 {
        (value &<< bits) | (value &>> (64 &- bits))
    }

    @inlinable
    static func round(_ accumulator: UInt64, _ input: UInt64) -> UInt64 {
        rotate(accumulator &+ input &* prime2, 31) &* prime1
    }

    @inlinable
    static func mergeRound(_ accumulator: UInt64, _ value: UInt64) -> UInt64 {
        (accumulator ^ round(0, value)) &* prime1 &+ prime4
    }
}
