/// Right-aligns a number in `width` columns.
func pad<T: BinaryInteger>(_ value: T, _ width: Int) -> String {
    let text = String(value)
    return String(repeating: " ", count: max(0, width - text.count)) + text
}

/// Nanoseconds as whole microseconds.
func microseconds(_ nanoseconds: UInt64) -> String {
    JSONLine.format(Double(nanoseconds) / 1000, decimals: 0)
}
