import Foundation

extension StatsHTMLRenderer {
    /// `text` safe inside an HTML element or a quoted attribute: `& < > " '` become entities, and control
    /// characters other than tab and line feed (which HTML cannot carry) become U+FFFD.
    static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            case "\t", "\n": result.unicodeScalars.append(scalar)
            case "\u{0}"..."\u{1F}", "\u{7F}"..."\u{9F}": result += "\u{FFFD}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// `1536` → `1.5 KiB`; under 1 KiB, `N B`.
    static func bytes(_ count: UInt64) -> String {
        guard count >= 1024 else { return "\(count) B" }
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(count) / 1024
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return String(format: value < 10 ? "%.1f" : "%.0f", value) + " " + units[unit]
    }

    /// A span of whole seconds, largest two units: `42s`, `5m 3s`, `2h 4m`, `3d 2h`.
    static func span(seconds: Int) -> String {
        let seconds = max(0, seconds)
        switch seconds {
        case ..<120: return "\(seconds)s"
        case ..<3_600: return "\(seconds / 60)m \(seconds % 60)s"
        case ..<172_800: return "\(seconds / 3_600)h \(seconds % 3_600 / 60)m"
        default: return "\(seconds / 86_400)d \(seconds % 86_400 / 3_600)h"
        }
    }

    /// `date` relative to `now`: `42s ago`; `never` for nil. A date after `now` (clock step) counts as `0s ago`.
    static func ago(_ date: Date?, now: Date) -> String {
        guard let date else { return "never" }
        return "\(span(seconds: Int(now.timeIntervalSince(date).rounded(.down)))) ago"
    }

    /// An ISO-8601 timestamp (UTC, seconds), for tooltips and the page header.
    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    /// A weight without a pointless `.0`: `5`, `2.5`.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
