/// Paths of the PEM files that make up a node's cluster TLS identity.
public struct ClusterTLSFiles: Sendable, Hashable {
    /// The certificate chain, leaf first.
    public var certificate: String
    /// The private key of the leaf certificate (PKCS#8, SEC1 or PKCS#1 PEM).
    public var key: String
    /// A CA bundle that peers' certificates must chain to. `nil`: peers are not verified at the TLS layer.
    public var ca: String?

    public init(certificate: String, key: String, ca: String? = nil) {
        self.certificate = certificate
        self.key = key
        self.ca = ca
    }
}
