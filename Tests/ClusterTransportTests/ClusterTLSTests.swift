import Crypto
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import SwiftASN1
import Testing
import X509

@testable import ClusterTransport

// MARK: - Handshakes over real sockets

@Suite("ClusterTLS handshakes")
struct ClusterTLSHandshakeTests {
    @Test("two generated identities complete a TLS 1.3 handshake and see each other's binding")
    func generatedIdentities() async throws {
        let server = try ClusterTLS.generate(nodeName: NodeName("node-a")!, hosts: ["127.0.0.1", "localhost"])
        let client = try ClusterTLS.generate(nodeName: NodeName("node-b")!, hosts: ["127.0.0.1"])
        #expect(!server.verifiesPeers)
        #expect(server.localBinding != client.localBinding)

        let link = try await TLSTestLink.open(server: server, client: client)
        defer { link.close() }
        let (serverSide, clientSide) = (try await link.serverResult.get(), try await link.clientResult.get())
        #expect(serverSide.version == .tlsv13)
        #expect(clientSide.version == .tlsv13)
        #expect(serverSide.peerBinding == client.localBinding)
        #expect(clientSide.peerBinding == server.localBinding)
    }

    enum BadClient: String, CaseIterable, Sendable {
        case limitedToTLS12
        case presentsNoCertificate
    }

    @Test("the server refuses a client that cannot do TLS 1.3 or presents no certificate", arguments: BadClient.allCases)
    func refusesBadClient(_ badClient: BadClient) async throws {
        let server = try ClusterTLS.generate(nodeName: NodeName("server")!, hosts: ["127.0.0.1"])
        let client = try ClusterTLS.generate(nodeName: NodeName("client")!, hosts: [])
        var configuration = try client.makeConfiguration(server: false)
        switch badClient {
        case .limitedToTLS12:
            configuration.minimumTLSVersion = .tlsv12
            configuration.maximumTLSVersion = .tlsv12
        case .presentsNoCertificate:
            configuration.certificateChain = []
            configuration.privateKey = nil
        }
        let clientContext = try NIOSSLContext(configuration: configuration)
        let serverContext = try server.makeServerContext()
        let link = try await TLSTestLink.open(server: { server.makeServerHandler(context: serverContext) }) {
            try NIOSSLClientHandler(
                context: clientContext,
                serverHostname: nil,
                customVerificationCallback: ClusterTLS.acceptPresentedCertificate,
                configuration: .init()
            )
        }
        defer { link.close() }
        await #expect(throws: (any Error).self) { try await link.serverResult.get() }
        try await link.connection.closeFuture.get()
        if badClient == .limitedToTLS12 {
            await #expect(throws: (any Error).self) { try await link.clientResult.get() }
        }
    }

    @Test("a plain TCP client writing non-TLS bytes gets the connection closed")
    func plainTCPClient() async throws {
        let server = try ClusterTLS.generate(nodeName: NodeName("server")!, hosts: ["127.0.0.1"])
        let serverContext = try server.makeServerContext()
        let link = try await TLSTestLink.open(server: { server.makeServerHandler(context: serverContext) }, client: nil)
        defer { link.close() }
        let garbage = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + String(repeating: "x", count: 300))
        // The server may have closed the connection already (it refuses at the first bytes, or a loaded machine
        // reached its handshake timeout first): a failed write is as good as a successful one here.
        try? await link.connection.writeAndFlush(garbage)
        await #expect(throws: (any Error).self) { try await link.serverResult.get() }
        try await link.connection.closeFuture.get()
    }

    @Test("identities loaded from files with a CA complete a handshake")
    func loadedWithCA() async throws {
        let directory = try TLSTestDirectory()
        defer { directory.remove() }
        let ca = try TLSTestCA(name: "cluster-ca")
        let server = try ClusterTLS.load(directory.write(ca.issue(commonName: "node-a"), ca: ca, as: "a"))
        let client = try ClusterTLS.load(directory.write(ca.issue(commonName: "node-b"), ca: ca, as: "b"))
        #expect(server.verifiesPeers && client.verifiesPeers)

        let link = try await TLSTestLink.open(server: server, client: client)
        defer { link.close() }
        let (serverSide, clientSide) = (try await link.serverResult.get(), try await link.clientResult.get())
        #expect(serverSide.version == .tlsv13)
        #expect(serverSide.peerBinding == client.localBinding)
        #expect(clientSide.peerBinding == server.localBinding)
    }

    enum Stranger: String, CaseIterable, Sendable {
        case client
        case server
    }

    @Test("a peer whose leaf is signed by another CA is refused", arguments: Stranger.allCases)
    func refusesOtherCA(_ stranger: Stranger) async throws {
        let directory = try TLSTestDirectory()
        defer { directory.remove() }
        let ca = try TLSTestCA(name: "cluster-ca")
        let other = try TLSTestCA(name: "other-ca")
        // The stranger trusts the cluster CA but its own certificate comes from the other CA.
        let good = try ClusterTLS.load(directory.write(ca.issue(commonName: "good"), ca: ca, as: "good"))
        let bad = try ClusterTLS.load(directory.write(other.issue(commonName: "bad"), ca: ca, as: "bad"))
        let link = try await TLSTestLink.open(
            server: stranger == .server ? bad : good,
            client: stranger == .client ? bad : good
        )
        defer { link.close() }
        let refusing = stranger == .client ? link.serverResult : link.clientResult
        await #expect(throws: (any Error).self) { try await refusing.get() }
        try await link.connection.closeFuture.get()
    }
}

// MARK: - Generation and loading

@Suite("ClusterTLS identities")
struct ClusterTLSIdentityTests {
    @Test("a generated certificate has the node name, the hosts, a P-256 key and a 1-year validity from 1 h ago")
    func generatedCertificate() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let tls = try ClusterTLS.generate(
            nodeName: NodeName("broker-1")!,
            hosts: ["10.0.0.7", "node1.cluster.internal", "[::1]"],
            now: now
        )
        let certificate = try Certificate(derEncoded: tls.certificateChainDER[0])
        #expect(tls.certificateChainDER.count == 1)
        #expect(certificate.subject.description == "CN=broker-1")
        #expect(certificate.issuer == certificate.subject)
        #expect(certificate.notValidBefore == now - 3600)
        #expect(certificate.notValidAfter == now + 365 * 24 * 3600)
        let publicKey = try #require(P256.Signing.PublicKey(certificate.publicKey))
        let names = try #require(try certificate.extensions.subjectAlternativeNames)
        #expect(
            Array(names) == [
                .ipAddress(ASN1OctetString(contentBytes: [10, 0, 0, 7])),
                .dnsName("node1.cluster.internal"),
                .ipAddress(ASN1OctetString(contentBytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])),
            ]
        )
        let binding = try ClusterTLS.binding(of: NIOSSLCertificate(bytes: tls.certificateChainDER[0], format: .der))
        // swift-crypto's DER form of a public key is the SubjectPublicKeyInfo.
        #expect(binding == Array(SHA256.hash(data: publicKey.derRepresentation)))
        #expect(tls.localBinding == binding)
    }

    @Test("a generated certificate without hosts has no SAN; an empty host is rejected")
    func generatedHosts() throws {
        let tls = try ClusterTLS.generate(nodeName: NodeName("n")!, hosts: [])
        let certificate = try Certificate(derEncoded: tls.certificateChainDER[0])
        #expect(try certificate.extensions.subjectAlternativeNames == nil)
        #expect(throws: ClusterTLSError(.invalidHost, reason: "invalid host for the certificate: \"\"")) {
            try ClusterTLS.generate(nodeName: NodeName("n")!, hosts: ["node", ""])
        }
    }

    @Test("a SEC1 key file with an EC PARAMETERS block before the key loads")
    func sec1KeyWithParameters() throws {
        let directory = try TLSTestDirectory()
        defer { directory.remove() }
        let ca = try TLSTestCA(name: "ca")
        let (certificate, key) = try ca.issue(commonName: "node")
        let files = try directory.write((certificate, key), ca: nil, as: "n")
        let sec1 = try PEMDocument(type: "EC PRIVATE KEY", derBytes: Array(sec1DER(key)))
        let parameters = PEMDocument(type: "EC PARAMETERS", derBytes: [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07])
        try directory.put(parameters.pemString + "\n" + sec1.pemString + "\n", at: files.key)
        let tls = try ClusterTLS.load(files)
        #expect(!tls.verifiesPeers)
        #expect(tls.localBinding == Array(SHA256.hash(data: key.publicKey.derRepresentation)))
        _ = try tls.makeServerContext()
        _ = try tls.makeClientContext()
    }

    enum BadFile: String, CaseIterable, Sendable {
        case missingCertificate, missingKey, missingCA
        case garbageCertificate, corruptCertificate, keyInCertificateFile
        case garbageKey, certificateInKeyFile, mismatchedKey, garbageCA
    }

    @Test("load reports which file is wrong and how", arguments: BadFile.allCases)
    func loadErrors(_ bad: BadFile) throws {
        let directory = try TLSTestDirectory()
        defer { directory.remove() }
        let ca = try TLSTestCA(name: "ca")
        var files = try directory.write(ca.issue(commonName: "node"), ca: ca, as: "n")
        let expected: (ClusterTLSError.Kind, String)
        switch bad {
        case .missingCertificate:
            files.certificate = directory.path("absent.crt")
            expected = (.unreadableFile, files.certificate)
        case .missingKey:
            files.key = directory.path("absent.key")
            expected = (.unreadableFile, files.key)
        case .missingCA:
            files.ca = directory.path("absent-ca.crt")
            expected = (.unreadableFile, files.ca!)
        case .garbageCertificate:
            try directory.put("this is not a certificate\n", at: files.certificate)
            expected = (.invalidCertificate, files.certificate)
        case .corruptCertificate:
            let document = PEMDocument(type: "CERTIFICATE", derBytes: [0x30, 0x03, 0x02, 0x01, 0x05])
            try directory.put(document.pemString, at: files.certificate)
            expected = (.invalidCertificate, files.certificate)
        case .keyInCertificateFile:
            try directory.put(try String(contentsOfFile: files.key, encoding: .utf8), at: files.certificate)
            expected = (.invalidCertificate, files.certificate)
        case .garbageKey:
            try directory.put("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", at: files.key)
            expected = (.invalidPrivateKey, files.key)
        case .certificateInKeyFile:
            try directory.put(try String(contentsOfFile: files.certificate, encoding: .utf8), at: files.key)
            expected = (.invalidPrivateKey, files.key)
        case .mismatchedKey:
            try directory.put(P256.Signing.PrivateKey().pemRepresentation, at: files.key)
            expected = (.keyMismatch, files.key)
        case .garbageCA:
            try directory.put("garbage", at: files.ca!)
            expected = (.invalidCertificate, files.ca!)
        }
        let error = try #require(throws: ClusterTLSError.self) { try ClusterTLS.load(files) }
        #expect(error.kind == expected.0)
        #expect(error.file == expected.1)
        #expect(error.description.contains(expected.1))
        if bad == .mismatchedKey { #expect(error.description.contains(files.certificate)) }
    }
}

// MARK: - Helpers

struct TLSTestHandshake: Sendable {
    var version: TLSVersion?
    var peerBinding: [UInt8]?
}

enum TLSTestProbeError: Error { case closedBeforeHandshake, timedOut }

/// Reports the outcome of the TLS handshake on its channel exactly once.
final class TLSTestProbe: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let result: EventLoopPromise<TLSTestHandshake>
    private var deadline: Scheduled<Void>?

    init(result: EventLoopPromise<TLSTestHandshake>) { self.result = result }

    func handlerAdded(context: ChannelHandlerContext) {
        // Not a wait but a guard against hanging when a connection that should be refused stays open (a test
        // awaiting its close then fails instead of hanging): fail the result and close the channel.
        let result = self.result
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: .seconds(10)) {
            result.fail(TLSTestProbeError.timedOut)
            channel.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            let tls = try? context.pipeline.syncOperations.handler(type: NIOSSLHandler.self)
            let binding = tls?.peerCertificate.flatMap { try? ClusterTLS.binding(of: $0) }
            result.succeed(TLSTestHandshake(version: tls?.tlsVersion, peerBinding: binding))
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        result.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        result.fail(TLSTestProbeError.closedBeforeHandshake)
        context.fireChannelInactive()
    }
}

/// One connection over 127.0.0.1 between a listener on an ephemeral port and a client, each with a probe.
struct TLSTestLink {
    static let group = MultiThreadedEventLoopGroup.singleton

    let listener: any Channel
    let connection: any Channel
    let serverResult: EventLoopFuture<TLSTestHandshake>
    let clientResult: EventLoopFuture<TLSTestHandshake>

    /// A link whose sides use `server` and `client` the way a node would.
    static func open(server: ClusterTLS, client: ClusterTLS) async throws -> TLSTestLink {
        let serverContext = try server.makeServerContext()
        let clientContext = try client.makeClientContext()
        return try await open(server: { server.makeServerHandler(context: serverContext) }) {
            try client.makeClientHandler(context: clientContext)
        }
    }

    /// A link whose accepted connection gets `server()` and whose client gets `client()` (plain TCP when nil).
    static func open(
        server: @escaping @Sendable () throws -> any ChannelHandler,
        client: (@Sendable () throws -> any ChannelHandler)?
    ) async throws -> TLSTestLink {
        let serverResult = group.next().makePromise(of: TLSTestHandshake.self)
        let clientResult = group.next().makePromise(of: TLSTestHandshake.self)
        let listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(server())
                    try channel.pipeline.syncOperations.addHandler(TLSTestProbe(result: serverResult))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        do {
            let port = try #require(listener.localAddress?.port)
            let connection = try await ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let client { try channel.pipeline.syncOperations.addHandler(client()) }
                        try channel.pipeline.syncOperations.addHandler(TLSTestProbe(result: clientResult))
                    }
                }
                .connect(host: "127.0.0.1", port: port).get()
            return TLSTestLink(
                listener: listener,
                connection: connection,
                serverResult: serverResult.futureResult,
                clientResult: clientResult.futureResult
            )
        } catch {
            listener.close(promise: nil)
            throw error
        }
    }

    func close() {
        connection.close(promise: nil)
        listener.close(promise: nil)
    }
}

/// A CA made in the test, issuing P-256 leaf certificates for server and client authentication.
struct TLSTestCA {
    let key = P256.Signing.PrivateKey()
    let certificate: Certificate

    init(name: String) throws {
        let subject = try DistinguishedName { CommonName(name) }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
            Critical(KeyUsage(keyCertSign: true, cRLSign: true))
        }
        certificate = try Self.sign(key.publicKey, subject: subject, issuer: subject, extensions: extensions, by: key)
    }

    func issue(commonName: String) throws -> (Certificate, P256.Signing.PrivateKey) {
        let leafKey = P256.Signing.PrivateKey()
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.serverAuth, .clientAuth])
            SubjectAlternativeNames([.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))])
        }
        let subject = try DistinguishedName { CommonName(commonName) }
        let leaf = try Self.sign(leafKey.publicKey, subject: subject, issuer: certificate.subject, extensions: extensions, by: key)
        return (leaf, leafKey)
    }

    private static func sign(
        _ publicKey: P256.Signing.PublicKey,
        subject: DistinguishedName,
        issuer: DistinguishedName,
        extensions: Certificate.Extensions,
        by issuerKey: P256.Signing.PrivateKey
    ) throws -> Certificate {
        try Certificate(
            version: .v3,
            serialNumber: .init(),
            publicKey: .init(publicKey),
            notValidBefore: Date() - 3600,
            notValidAfter: Date() + 86400,
            issuer: issuer,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: .init(issuerKey)
        )
    }
}

/// A fresh directory under the system temporary directory for PEM files.
struct TLSTestDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("cluster-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func put(_ text: String, at path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Writes `<prefix>.crt`, `<prefix>.key` (PKCS#8) and, with a CA, `<prefix>-ca.crt`.
    func write(
        _ leaf: (Certificate, P256.Signing.PrivateKey),
        ca: TLSTestCA?,
        as prefix: String
    ) throws -> ClusterTLSFiles {
        let files = ClusterTLSFiles(
            certificate: path("\(prefix).crt"),
            key: path("\(prefix).key"),
            ca: ca.map { _ in path("\(prefix)-ca.crt") }
        )
        try put(leaf.0.serializeAsPEM().pemString + "\n", at: files.certificate)
        try put(leaf.1.pemRepresentation + "\n", at: files.key)
        if let ca, let caPath = files.ca { try put(ca.certificate.serializeAsPEM().pemString + "\n", at: caPath) }
        return files
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// The SEC1 (`EC PRIVATE KEY`) DER of a P-256 key: version 1, the scalar, the curve OID, the public point.
private func sec1DER(_ key: P256.Signing.PrivateKey) throws -> [UInt8] {
    var serializer = DER.Serializer()
    try serializer.appendConstructedNode(identifier: .sequence) { coder in
        try coder.serialize(1)
        try coder.serialize(ASN1OctetString(contentBytes: ArraySlice(key.rawRepresentation)))
        try coder.serialize(ASN1ObjectIdentifier.NamedCurves.secp256r1, explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific)
        try coder.serialize(
            ASN1BitString(bytes: ArraySlice(key.publicKey.x963Representation)),
            explicitlyTaggedWithTagNumber: 1,
            tagClass: .contextSpecific
        )
    }
    return serializer.serializedBytes
}
