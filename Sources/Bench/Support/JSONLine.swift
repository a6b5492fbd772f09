/// Builds one line of JSON with keys in insertion order (the RESULT line), without Foundation.
struct JSONLine {
    private var fields: [String] = []

    mutating func add(_ key: String, _ value: String) { fields.append("\(quote(key)):\(quote(value))") }
    mutating func add(_ key: String, _ value: Int) { fields.append("\(quote(key)):\(value)") }
    mutating func add(_ key: String, _ value: UInt64) { fields.append("\(quote(key)):\(value)") }
    mutating func add(_ key: String, _ value: Bool) { fields.append("\(quote(key)):\(value)") }

    /// Rounded to `decimals` places; non-finite values become null.
    mutating func add(_ key: String, _ value: Double, decimals: Int = 1) {
        guard value.isFinite else {
            fields.append("\(quote(key)):null")
            return
        }
        fields.append("\(quote(key)):\(Self.format(value, decimals: decimals))")
    }

    var text: String { "{" + fields.joined(separator: ",") + "}" }

    static func format(_ value: Double, decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        if decimals == 0 || rounded == rounded.rounded() { return String(Int64(rounded)) }
        return String(rounded)
    }

    private func quote(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
