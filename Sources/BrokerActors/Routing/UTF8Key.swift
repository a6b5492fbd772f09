/// A dictionary key that compares and hashes text by its UTF-8 bytes.
///
/// Swift's `String` equality is canonical equivalence (`"é" == "e\u{301}"`), but MQTT compares topic names,
/// filters and share names byte for byte and never normalizes them [MQTT-4.7.3-4]. Wrapping a `Substring` also
/// lets the matcher look up a level of the published topic without copying it into a new `String`.
struct UTF8Key: Hashable, Sendable {
    let text: Substring

    init(_ text: Substring) { self.text = text }
    init(_ text: String) { self.text = Substring(text) }

    static func == (lhs: UTF8Key, rhs: UTF8Key) -> Bool {
        let a = lhs.text.utf8
        let b = rhs.text.utf8
        guard a.count == b.count else { return false }
        let fast = a.withContiguousStorageIfAvailable { pa in
            b.withContiguousStorageIfAvailable { pb in
                pa.isEmpty || memcmp(pa.baseAddress!, pb.baseAddress!, pa.count) == 0
            }
        }
        if let fast, let equal = fast { return equal }
        return a.elementsEqual(b)
    }

    func hash(into hasher: inout Hasher) {
        let utf8 = text.utf8
        let hashed: Void? = utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if hashed == nil {
            // Not contiguous (a bridged string): hash a copy so both paths feed the same bytes.
            Array(utf8).withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }

    var isWildcardPlus: Bool { text.utf8.count == 1 && text.utf8.first == UInt8(ascii: "+") }
    var isWildcardHash: Bool { text.utf8.count == 1 && text.utf8.first == UInt8(ascii: "#") }
    /// Whether the level starts with `$` (not matched by a leading wildcard [MQTT-4.7.2-1]).
    var isDollar: Bool { text.utf8.first == UInt8(ascii: "$") }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
