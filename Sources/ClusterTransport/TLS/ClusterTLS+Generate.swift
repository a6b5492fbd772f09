import Crypto
import Foundation
import SwiftASN1
import X509

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension ClusterTLS {
    /// How long before "now" a generated certificate becomes valid, to absorb clock skew between nodes.
    static let generatedBackdating: TimeInterval = 3600
    /// How long a generated certificate stays valid.
    static let generatedLifetime: TimeInterval = 365 * 24 * 3600

    /// A fresh self-signed certificate for this boot, made with swift-certificates: a new P-256 key, subject and
    /// issuer CN = the node name, subject alternative names = `hosts` (IPv4/IPv6 literals become IP addresses,
    /// anything else a DNS name; no SAN extension when `hosts` is empty), valid from 1 hour ago for 1 year, for
    /// both server and client authentication. The result has no CA, so `verifiesPeers` is false.
    public static func generate(nodeName: NodeName, hosts: [String]) throws -> ClusterTLS {
        try generate(nodeName: nodeName, hosts: hosts, now: Date())
    }

    /// `generate(nodeName:hosts:)` with the time injected.
    static func generate(nodeName: NodeName, hosts: [String], now: Date) throws -> ClusterTLS {
        let names = try hosts.map(subjectAlternativeName(for:))
        let privateKey = P256.Signing.PrivateKey()
        let certificateKey = Certificate.PrivateKey(privateKey)
        do {
            let subject = try DistinguishedName { CommonName(nodeName.rawValue) }
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                if !names.isEmpty {
                    SubjectAlternativeNames(names)
                }
            }
            let certificate = try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: certificateKey.publicKey,
                notValidBefore: now - generatedBackdating,
                notValidAfter: now + generatedLifetime,
                issuer: subject,
                subject: subject,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: extensions,
                issuerPrivateKey: certificateKey
            )
            var serializer = DER.Serializer()
            try serializer.serialize(certificate)
            return try ClusterTLS(
                certificateChainDER: [serializer.serializedBytes],
                privateKeyPEM: privateKey.pemRepresentation,
                trustedCAsDER: nil
            )
        } catch let error as ClusterTLSError {
            throw error
        } catch {
            throw ClusterTLSError(.internalFailure, reason: "cannot generate a certificate: \(error)")
        }
    }

    /// An IP address SAN for an IPv4/IPv6 literal (brackets allowed around IPv6), else a DNS name SAN.
    static func subjectAlternativeName(for host: String) throws -> GeneralName {
        var host = host
        if host.hasPrefix("["), host.hasSuffix("]"), host.count > 2 {
            host = String(host.dropFirst().dropLast())
        }
        guard !host.isEmpty, host.utf8.count <= 253 else {
            throw ClusterTLSError(.invalidHost, reason: "invalid host for the certificate: \"\(host)\"")
        }
        if let bytes = ipAddressBytes(host, family: AF_INET, size: 4) ?? ipAddressBytes(host, family: AF_INET6, size: 16) {
            return .ipAddress(ASN1OctetString(contentBytes: bytes[...]))
        }
        return .dnsName(host)
    }

    private static func ipAddressBytes(_ text: String, family: Int32, size: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: 16)
        let parsed = bytes.withUnsafeMutableBytes { buffer in inet_pton(family, text, buffer.baseAddress) }
        return parsed == 1 ? Array(bytes.prefix(size)) : nil
    }
}
