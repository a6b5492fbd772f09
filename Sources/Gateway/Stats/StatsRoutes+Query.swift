extension StatsRoutes {
    struct QueryItem: Equatable {
        var name: String
        var value: String
    }

    /// The `name=value` pairs of an `application/x-www-form-urlencoded` query (what an HTML form sends with GET):
    /// `+` is a space and `%XX` a byte, and the result must be UTF-8. A pair without `=` has an empty value. Nil
    /// when any part does not decode.
    static func queryItems(_ query: Substring) -> [QueryItem]? {
        var items: [QueryItem] = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let equals = pair.firstIndex(of: "=")
            let rawName = equals.map { pair[..<$0] } ?? pair
            let rawValue = equals.map { pair[pair.index(after: $0)...] } ?? ""
            guard let name = formDecode(rawName), let value = formDecode(rawValue) else { return nil }
            items.append(QueryItem(name: name, value: value))
        }
        return items
    }

    /// Decodes one form-encoded component; nil for a bad `%` escape or bytes that are not UTF-8.
    static func formDecode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            default:
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
