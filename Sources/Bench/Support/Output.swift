#if canImport(Glibc)
import Glibc
#endif

/// Unbuffered line output (progress must show up at once even when stdout is a pipe).
enum Output {
    static func line(_ text: String) { write(to: 1, text) }
    static func error(_ text: String) { write(to: 2, text) }

    private static func write(to descriptor: Int32, _ text: String) {
        var text = text + "\n"
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }
}
