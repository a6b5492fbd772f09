/// A dictionary key that compares and hashes text by its UTF-8 bytes.
///
/// Swift's `String` equality is canonical equivalence (`"é" == "e\u{301}"`), but MQTT compares topic names,
/// filters and share names byte for byte and never normalizes them [MQTT-4.7.3-4]. Wrapping a `Substring` also
/// lets the matcher look up a level of the published topic without copying it into a new `String`.
///
/// The length and the first eight bytes are kept inline: most topic levels are that short, and then hashing and
/// comparing (which a dictionary probe does several times per lookup) never touch the string's storage.
struct UTF8Key: Hashable, Sendable {
    let text: Substring
    /// The first (up to) eight bytes, packed little-endian.
    private let head: UInt64
    private let count: Int

    init(_ text: String) { self.init(Substring(text)) }

    init(_ text: Substring) {
        self.text = text
        let utf8 = text.utf8
        count = utf8.count
        let packed: UInt64? = utf8.withContiguousStorageIfAvailable { Self.pack($0.prefix(8)) }
        head = packed ?? Self.pack(utf8.prefix(8))
    }

    private static func pack(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var packed: UInt64 = 0
        var shift: UInt64 = 0
        for byte in bytes {
            packed |= UInt64(byte) << shift
            shift += 8
        }
        return packed
    }

    static func == (lhs: UTF8Key, rhs: UTF8Key) -> Bool {
        guard lhs.head == rhs.head, lhs.count == rhs.count else { return false }
        if lhs.count <= 8 { return true }
        let a = lhs.text.utf8
        let b = rhs.text.utf8
        let fast = a.withContiguousStorageIfAvailable { pa in
            b.withContiguousStorageIfAvailable { pb in memcmp(pa.baseAddress!, pb.baseAddress!, pa.count) == 0 }
        }
        if let fast, let equal = fast { return equal }
        return a.elementsEqual(b)
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(head)
        hasher.combine(count)
        guard count > 8 else { return }
        let utf8 = text.utf8
        let hashed: Void? = utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if hashed == nil {
            // Not contiguous (a bridged string): hash a copy so both paths feed the same bytes.
            Array(utf8).withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }

    var isWildcardPlus: Bool { count == 1 && head == UInt64(UInt8(ascii: "+")) }
    var isWildcardHash: Bool { count == 1 && head == UInt64(UInt8(ascii: "#")) }
    /// Whether the level starts with `$` (not matched by a leading wildcard [MQTT-4.7.2-1]).
    var isDollar: Bool { count > 0 && head & 0xFF == UInt64(UInt8(ascii: "$")) }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
