/// A failure to load, generate or use a cluster TLS identity. `file` names the file at fault, when there is one.
public struct ClusterTLSError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Hashable {
        /// The file does not exist or cannot be read.
        case unreadableFile
        /// The file holds no certificate, or a certificate that cannot be parsed.
        case invalidCertificate
        /// The file holds no private key, or one that cannot be parsed or is of an unsupported type.
        case invalidPrivateKey
        /// The private key does not belong to the leaf certificate.
        case keyMismatch
        /// A host given for the subject alternative names is empty or too long.
        case invalidHost
        /// Building the certificate or TLS context failed.
        case internalFailure
    }

    public let kind: Kind
    /// The file the error is about, if any.
    public let file: String?
    /// A short human-readable explanation.
    public let reason: String

    public init(_ kind: Kind, file: String? = nil, reason: String) {
        self.kind = kind
        self.file = file
        self.reason = reason
    }

    public var description: String {
        if let file { return "cluster TLS: \(file): \(reason)" }
        return "cluster TLS: \(reason)"
    }
}
