/// The shared cluster secret. Only its HMAC ever leaves the node; `description` is masked.
public struct ClusterCookie: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Accepted length in UTF-8 bytes.
    public static let allowedLength = 32...1024

    /// The secret as UTF-8 bytes (the HMAC key). Kept as bytes: `SymmetricKey` is not `Sendable` on Linux.
    let bytes: [UInt8]

    /// Nil unless `text` is 32 to 1024 UTF-8 bytes long. The text is used exactly as given (no trimming).
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard Self.allowedLength.contains(bytes.count) else { return nil }
        self.bytes = bytes
    }

    /// The number of UTF-8 bytes in the secret.
    public var length: Int { bytes.count }

    public var description: String { "<cookie: \(bytes.count) chars>" }
    public var debugDescription: String { description }
    /// No children, so `dump` and debuggers don't reveal the bytes either.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
