import Crypto
import _CryptoExtras

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A salted password hash in one of the two formats `mosquitto_passwd` writes:
///
/// - `$7$<iterations>$<base64 salt>$<base64 hash>`: PBKDF2-HMAC-SHA512 (mosquitto 2.0's default, 101 iterations).
/// - `$6$<base64 salt>$<base64 hash>`: one SHA-512 over the password bytes followed by the salt bytes.
///
/// The hash is always 64 bytes. `description` never shows the salt or hash.
public struct PasswordHash: Sendable, CustomStringConvertible {
    public enum Algorithm: Sendable, Hashable {
        /// `$6$`
        case sha512
        /// `$7$`, with its iteration count.
        case pbkdf2SHA512(iterations: Int)
    }

    /// Why an encoded hash was refused; carries nothing of the hash itself.
    public enum FormatError: Error, Sendable, Hashable {
        case unsupportedAlgorithm
        case malformed
        case invalidIterations
        case invalidSalt
        case invalidHashLength
    }

    public static let hashByteCount = 64
    /// mosquitto_passwd's salt length.
    public static let defaultSaltByteCount = 12
    /// mosquitto 2.0's iteration count for `$7$`.
    public static let defaultIterations = 101
    /// Upper bound on `$7$` iterations accepted from a file, so one line cannot make every CONNECT cost seconds.
    public static let maximumIterations = 10_000_000

    public let algorithm: Algorithm
    let salt: [UInt8]
    let hash: [UInt8]

    /// Parses the part of a password-file line after `username:`.
    public init(encoded: Substring) throws(FormatError) {
        let fields = encoded.split(separator: "$", omittingEmptySubsequences: false)
        // A leading `$` gives an empty first field.
        guard fields.count >= 2, fields[0].isEmpty else { throw .malformed }
        switch fields[1] {
        case "6":
            guard fields.count == 4 else { throw .malformed }
            self.algorithm = .sha512
            self.salt = try Self.decode(fields[2], error: .invalidSalt)
            self.hash = try Self.decode(fields[3], error: .malformed)
        case "7":
            guard fields.count == 5 else { throw .malformed }
            guard fields[2].allSatisfy(\.isASCIIDigitCharacter), fields[2].count <= 9, let iterations = Int(fields[2]),
                (1...Self.maximumIterations).contains(iterations)
            else { throw .invalidIterations }
            self.algorithm = .pbkdf2SHA512(iterations: iterations)
            self.salt = try Self.decode(fields[3], error: .invalidSalt)
            self.hash = try Self.decode(fields[4], error: .malformed)
        default:
            throw .unsupportedAlgorithm
        }
        guard !salt.isEmpty else { throw .invalidSalt }
        guard hash.count == Self.hashByteCount else { throw .invalidHashLength }
    }

    /// Hashes `password` with the given salt (tests and `PasswordFile.makeEntry` pass a fresh random one).
    public init(password: some Collection<UInt8>, salt: [UInt8], algorithm: Algorithm) {
        precondition(!salt.isEmpty, "empty salt")
        self.algorithm = algorithm
        self.salt = salt
        self.hash = Self.derive(Array(password), salt: salt, algorithm: algorithm)
    }

    /// A new `$7$` hash with a random 12-byte salt from the system's secure generator.
    public static func make(password: some Collection<UInt8>, iterations: Int = defaultIterations) -> PasswordHash {
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<defaultSaltByteCount).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return PasswordHash(password: password, salt: salt, algorithm: .pbkdf2SHA512(iterations: iterations))
    }

    /// Whether `password` hashes to this hash; the final comparison takes the same time wherever the bytes differ.
    public func verify(password: some Collection<UInt8>) -> Bool {
        Self.constantTimeEquals(Self.derive(Array(password), salt: salt, algorithm: algorithm), hash)
    }

    /// The text after `username:` in a password file.
    public var encoded: String {
        let salt = Data(salt).base64EncodedString()
        let hash = Data(hash).base64EncodedString()
        switch algorithm {
        case .sha512: return "$6$\(salt)$\(hash)"
        case .pbkdf2SHA512(let iterations): return "$7$\(iterations)$\(salt)$\(hash)"
        }
    }

    public var description: String {
        switch algorithm {
        case .sha512: "PasswordHash(sha512)"
        case .pbkdf2SHA512(let iterations): "PasswordHash(pbkdf2-sha512, \(iterations) iterations)"
        }
    }

    // MARK: - Internals

    private static func decode(_ field: Substring, error: FormatError) throws(FormatError) -> [UInt8] {
        guard !field.isEmpty, let data = Data(base64Encoded: String(field)) else { throw error }
        return Array(data)
    }

    static func derive(_ password: [UInt8], salt: [UInt8], algorithm: Algorithm) -> [UInt8] {
        switch algorithm {
        case .sha512:
            var hasher = SHA512()
            hasher.update(data: password)
            hasher.update(data: salt)
            return Array(hasher.finalize())
        case .pbkdf2SHA512(let iterations):
            // BoringSSL's PBKDF2 only fails on allocation failure or impossible parameters (validated above); an
            // empty result then simply never verifies.
            guard
                let key = try? KDF.Insecure.PBKDF2.deriveKey(
                    from: password, salt: salt, using: .sha512, outputByteCount: hashByteCount,
                    unsafeUncheckedRounds: iterations)
            else { return [] }
            return key.withUnsafeBytes { Array($0) }
        }
    }

    /// Compares two byte arrays in time that depends only on their lengths.
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

extension Character {
    fileprivate var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}
