import Crypto
import NIOCore
import NIOSSL

/// A node's TLS identity for cluster links, and the NIOSSL contexts and handlers built from it.
///
/// Every cluster link is TLS 1.3 only, and mutual: the server requires a client certificate, and both sides present
/// theirs. What the TLS layer verifies depends on whether a CA was configured:
///
/// - **With a CA** (`ClusterTLSFiles.ca`, so `verifiesPeers` is true): on both sides the peer's chain must verify
///   against that CA bundle (and only it; not the system roots). There is no hostname verification, because node
///   addresses are often IPs or private DNS names; any certificate issued by the cluster CA is accepted.
/// - **Without a CA** (the default; each node `generate`s a self-signed certificate at boot): TLS provides
///   encryption and carries the peer certificate, and any certificate is accepted at the TLS layer, but the peer must
///   still present one. Authentication is the cookie MAC that follows the handshake: it covers the channel binding
///   of both certificates (`localBinding` and `binding(of:)` of the peer's), so a man in the middle, who must
///   present its own certificates, cannot relay it.
///
/// Accepting any certificate needs a per-connection verification callback, which NIOSSL takes on the handler, not
/// on the context: create handlers with `makeServerHandler(context:)` and `makeClientHandler(context:)`. A handler
/// made directly with `NIOSSLServerHandler(context:)` fails closed without a CA (it trusts no roots at all).
///
/// The value holds only bytes (DER certificates, PEM key) so that it is `Sendable`; NIOSSL objects are rebuilt by the
/// `make…` functions. Build a context once per listener or dialer and reuse it for many connections.
public struct ClusterTLS: Sendable {
    /// Our certificate chain in DER, leaf first.
    let certificateChainDER: [[UInt8]]
    /// Our leaf's private key as one PEM document.
    let privateKeyPEM: String
    /// The CA bundle in DER; `nil` when peers are not verified at the TLS layer.
    let trustedCAsDER: [[UInt8]]?

    /// SHA-256 of our leaf certificate's SubjectPublicKeyInfo (DER).
    public let localBinding: [UInt8]

    /// True when a CA was given, so peers' chains are verified against it during the handshake.
    public var verifiesPeers: Bool { trustedCAsDER != nil }

    /// Builds the value from already-parsed parts; the binding is computed from the leaf.
    init(certificateChainDER: [[UInt8]], privateKeyPEM: String, trustedCAsDER: [[UInt8]]?) throws {
        guard let leaf = certificateChainDER.first else {
            throw ClusterTLSError(.invalidCertificate, reason: "empty certificate chain")
        }
        self.certificateChainDER = certificateChainDER
        self.privateKeyPEM = privateKeyPEM
        self.trustedCAsDER = trustedCAsDER
        self.localBinding = try Self.binding(of: NIOSSLCertificate(bytes: leaf, format: .der))
    }

    /// SHA-256 of a peer certificate's SubjectPublicKeyInfo (DER); use it on the certificate NIOSSL reports for
    /// the peer (`NIOSSLHandler.peerCertificate`).
    public static func binding(of certificate: NIOSSLCertificate) throws -> [UInt8] {
        let spki: [UInt8]
        do {
            spki = try certificate.extractPublicKey().toSPKIBytes()
        } catch {
            throw ClusterTLSError(.invalidCertificate, reason: "cannot extract the public key: \(error)")
        }
        return Array(SHA256.hash(data: spki))
    }

    // MARK: Contexts

    /// A server context: TLS 1.3 only, presents our certificate, requires a client certificate.
    /// Use with `makeServerHandler(context:)`.
    public func makeServerContext() throws -> NIOSSLContext {
        try makeContext(makeConfiguration(server: true))
    }

    /// A client context: TLS 1.3 only, presents our certificate, requires the server's.
    /// Use with `makeClientHandler(context:)`.
    public func makeClientContext() throws -> NIOSSLContext {
        try makeContext(makeConfiguration(server: false))
    }

    /// A server-side handler for one connection, with the verification policy described on the type.
    public func makeServerHandler(context: NIOSSLContext) -> NIOSSLServerHandler {
        NIOSSLServerHandler(context: context, customVerificationCallback: peerVerification, configuration: .init())
    }

    /// A client-side handler for one connection, with the verification policy described on the type. No SNI is
    /// sent and the server's name is not checked.
    public func makeClientHandler(context: NIOSSLContext) throws -> NIOSSLClientHandler {
        try NIOSSLClientHandler(
            context: context,
            serverHostname: nil,
            customVerificationCallback: peerVerification,
            configuration: .init()
        )
    }

    /// The TLS configuration behind the contexts (internal so tests can derive deliberately broken variants).
    func makeConfiguration(server: Bool) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        let roots: [NIOSSLCertificate]
        do {
            chain = try certificateChainDER.map { try NIOSSLCertificate(bytes: $0, format: .der) }
            key = try NIOSSLPrivateKey(bytes: Array(privateKeyPEM.utf8), format: .pem)
            roots = try (trustedCAsDER ?? []).map { try NIOSSLCertificate(bytes: $0, format: .der) }
        } catch {
            throw ClusterTLSError(.internalFailure, reason: "cannot rebuild the TLS identity: \(error)")
        }
        let certificates = chain.map { NIOSSLCertificateSource.certificate($0) }
        var configuration: TLSConfiguration =
            server
            ? .makeServerConfiguration(certificateChain: certificates, privateKey: .privateKey(key))
            : .makeClientConfiguration()
        configuration.certificateChain = certificates  // the client presents its certificate too
        configuration.privateKey = .privateKey(key)
        configuration.minimumTLSVersion = .tlsv13
        configuration.maximumTLSVersion = .tlsv13
        // Requires a peer certificate on both sides (SSL_VERIFY_FAIL_IF_NO_PEER_CERT) and checks the chain but not
        // the name. Without a CA the trust store is empty and the handler's callback replaces chain verification.
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .certificates(roots)
        configuration.renegotiationSupport = .none
        return configuration
    }

    private func makeContext(_ configuration: TLSConfiguration) throws -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw ClusterTLSError(.internalFailure, reason: "cannot create the TLS context: \(error)")
        }
    }

    /// The handlers' verification override: none with a CA (NIOSSL verifies against it), else accept-any.
    private var peerVerification: NIOSSLCustomVerificationCallback? {
        if verifiesPeers { return nil }
        return { chain, promise in Self.acceptPresentedCertificate(chain, promise) }
    }

    /// Used without a CA: accepts whatever chain the peer presented (NIOSSL has already required one); the cookie
    /// MAC over the channel binding authenticates the peer afterwards.
    static func acceptPresentedCertificate(
        _ chain: [NIOSSLCertificate],
        _ promise: EventLoopPromise<NIOSSLVerificationResult>
    ) {
        promise.succeed(chain.isEmpty ? .failed : .certificateVerified)
    }
}
