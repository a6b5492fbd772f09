/// Why bytes from a peer are not a valid cluster frame.
public struct ClusterFrameError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The specific problem.
    public enum Code: Sendable, Hashable {
        /// The length field declares more than the decoder's maximum frame size.
        case frameTooLarge(declared: Int, max: Int)
        /// The length field is below 2: no room for the kind and flags bytes.
        case frameTooShort(declared: Int)
        /// The stream ended in the middle of a frame.
        case truncated(buffered: Int)
        /// Flag bits other than bit 0 (compression) are set.
        case unknownFlags(UInt8)
        /// A compressed payload's declared original size is above the allowed maximum.
        case decompressedTooLarge(declared: Int, max: Int)
        /// A compressed payload is not a valid `u32 originalSize` + lz4 block of exactly that size.
        case corruptCompression
    }

    public let code: Code

    public init(_ code: Code) { self.code = code }

    public static func frameTooLarge(declared: Int, max: Int) -> ClusterFrameError {
        ClusterFrameError(.frameTooLarge(declared: declared, max: max))
    }
    public static func frameTooShort(declared: Int) -> ClusterFrameError {
        ClusterFrameError(.frameTooShort(declared: declared))
    }
    public static func truncated(buffered: Int) -> ClusterFrameError {
        ClusterFrameError(.truncated(buffered: buffered))
    }
    public static func unknownFlags(_ flags: UInt8) -> ClusterFrameError { ClusterFrameError(.unknownFlags(flags)) }
    public static func decompressedTooLarge(declared: Int, max: Int) -> ClusterFrameError {
        ClusterFrameError(.decompressedTooLarge(declared: declared, max: max))
    }
    public static let corruptCompression = ClusterFrameError(.corruptCompression)

    public var description: String {
        switch code {
        case .frameTooLarge(let declared, let max): "cluster frame of \(declared) bytes exceeds the maximum of \(max)"
        case .frameTooShort(let declared): "cluster frame length \(declared) is too short for kind and flags"
        case .truncated(let buffered): "stream ended inside a cluster frame (\(buffered) bytes buffered)"
        case .unknownFlags(let flags): "cluster frame has reserved flag bits set (flags 0x\(String(flags, radix: 16)))"
        case .decompressedTooLarge(let declared, let max):
            "compressed cluster frame declares \(declared) bytes, above the maximum of \(max)"
        case .corruptCompression: "corrupt lz4-compressed cluster frame payload"
        }
    }
}
