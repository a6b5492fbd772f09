/// FNV-1a over UTF-8: stable across processes and machines (unlike Swift's seeded `Hasher`), so every node places
/// a topic in the same shard.
public enum StableHash {
    public static func fnv1a<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return hash
    }

    public static func shard<S: Sequence>(of bytes: S, count: Int) -> Int where S.Element == UInt8 {
        Int(fnv1a(bytes) % UInt64(count))
    }
}
