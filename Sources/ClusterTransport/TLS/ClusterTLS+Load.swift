import Foundation
import NIOSSL
import SwiftASN1
import X509

extension ClusterTLS {
    /// Upper bound on a PEM file we read; certificate chains, keys and CA bundles are far smaller.
    static let maximumPEMFileSize = 4 << 20

    /// Loads a PEM certificate chain (leaf first), the leaf's private key and, optionally, a CA bundle.
    /// Errors (`ClusterTLSError`) name the file and what is wrong with it: missing or unreadable, no or unparsable
    /// certificate, no or unparsable or unsupported key, or a key that does not belong to the leaf certificate.
    public static func load(_ files: ClusterTLSFiles) throws -> ClusterTLS {
        let chain = try readCertificates(files.certificate)
        let (keyPEM, key) = try readPrivateKey(files.key)

        let leaf: Certificate
        do {
            leaf = try Certificate(derEncoded: chain[0])
        } catch {
            throw ClusterTLSError(.invalidCertificate, file: files.certificate, reason: "cannot parse the first certificate: \(error)")
        }
        guard leaf.publicKey == key.publicKey else {
            throw ClusterTLSError(
                .keyMismatch,
                file: files.key,
                reason: "the private key does not match the certificate in \(files.certificate)"
            )
        }

        let cas = try files.ca.map { try readCertificates($0) }
        do {
            return try ClusterTLS(certificateChainDER: chain, privateKeyPEM: keyPEM, trustedCAsDER: cas)
        } catch let error as ClusterTLSError {
            throw ClusterTLSError(error.kind, file: files.certificate, reason: error.reason)
        }
    }

    /// Reads a file as UTF-8 text, with errors naming the file.
    static func readText(_ path: String) throws -> String {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ClusterTLSError(.unreadableFile, file: path, reason: "file does not exist")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ClusterTLSError(.unreadableFile, file: path, reason: "cannot read the file: \(error.localizedDescription)")
        }
        guard data.count <= maximumPEMFileSize else {
            throw ClusterTLSError(.unreadableFile, file: path, reason: "file is larger than \(maximumPEMFileSize) bytes")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ClusterTLSError(.unreadableFile, file: path, reason: "not a PEM text file")
        }
        return text
    }

    /// Parses the PEM documents of a file; every document must be well-formed.
    static func readPEMDocuments(_ path: String, expecting what: String, kind: ClusterTLSError.Kind) throws -> [PEMDocument] {
        let text = try readText(path)
        let documents: [PEMDocument]
        do {
            documents = try PEMDocument.parseMultiple(pemString: text)
        } catch {
            throw ClusterTLSError(kind, file: path, reason: "not valid PEM (expected \(what)): \(error)")
        }
        guard !documents.isEmpty else {
            throw ClusterTLSError(kind, file: path, reason: "no PEM \(what) found")
        }
        return documents
    }

    /// The DER certificates of a PEM file, in file order; each one must parse.
    static func readCertificates(_ path: String) throws -> [[UInt8]] {
        let documents = try readPEMDocuments(path, expecting: "CERTIFICATE", kind: .invalidCertificate)
        let certificates = documents.filter { $0.discriminator == "CERTIFICATE" }
        guard !certificates.isEmpty else {
            throw ClusterTLSError(.invalidCertificate, file: path, reason: "no PEM CERTIFICATE found")
        }
        return try certificates.enumerated().map { index, document in
            let der = Array(document.derBytes)
            do {
                _ = try Certificate(derEncoded: der)
                _ = try NIOSSLCertificate(bytes: der, format: .der)
            } catch {
                throw ClusterTLSError(.invalidCertificate, file: path, reason: "certificate #\(index + 1) is invalid: \(error)")
            }
            return der
        }
    }

    /// The first private key of a PEM file (PKCS#8, SEC1 or PKCS#1; other documents such as EC PARAMETERS are
    /// skipped), as a PEM document and parsed.
    static func readPrivateKey(_ path: String) throws -> (pem: String, key: Certificate.PrivateKey) {
        let documents = try readPEMDocuments(path, expecting: "PRIVATE KEY", kind: .invalidPrivateKey)
        let keyTypes: Set<String> = ["PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"]
        guard let document = documents.first(where: { keyTypes.contains($0.discriminator) }) else {
            let found = documents.map(\.discriminator).joined(separator: ", ")
            throw ClusterTLSError(.invalidPrivateKey, file: path, reason: "no PEM PRIVATE KEY found (found: \(found))")
        }
        let pem = document.pemString
        let key: Certificate.PrivateKey
        do {
            key = try Certificate.PrivateKey(pemDocument: document)
            _ = try NIOSSLPrivateKey(bytes: Array(pem.utf8), format: .pem)
        } catch {
            throw ClusterTLSError(.invalidPrivateKey, file: path, reason: "cannot parse the private key: \(error)")
        }
        return (pem, key)
    }
}
