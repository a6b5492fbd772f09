/// Splits a line-oriented configuration file (password file, ACL file) into numbered, trimmed lines, skipping
/// blank lines and `#` comment lines. Accepts `\n` and `\r\n` line ends.
enum ConfigLines {
    struct Line {
        /// 1-based, as an editor shows it.
        var number: Int
        var text: Substring
    }

    static func significantLines(of contents: String) -> [Line] {
        var lines: [Line] = []
        for (offset, raw) in contents.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            .enumerated()
        {
            let text = trimmed(Substring(raw))
            guard !text.isEmpty, text.first != "#" else { continue }
            lines.append(Line(number: offset + 1, text: text))
        }
        return lines
    }

    static func trimmed(_ text: Substring) -> Substring {
        guard let start = text.firstIndex(where: { !isBlank($0) }) else { return text[text.endIndex...] }
        let end = text.lastIndex(where: { !isBlank($0) })!
        return text[start...end]
    }

    static func isBlank(_ character: Character) -> Bool {
        character == " " || character == "\t" || character == "\r" || character == "\r\n"
    }
}
