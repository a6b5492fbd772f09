import Crypto
import Foundation
import Synchronization

/// Who may use the node's admin API: one user name and password (`--admin-user`, `--admin-password`), checked in
/// constant time, and the bearer tokens `POST /api/v5/login` hands out (random, kept in memory, valid for `tokenLifetime`).
/// Without a password nobody gets in. Failed logins go through a `LoginThrottle`.
public final class AdminAccess: Sendable {
    public let user: String
    private let password: String?
    public let tokenLifetime: Duration
    private let tokens = Mutex<[String: ContinuousClock.Instant]>([:])
    private let throttle = Mutex(LoginThrottle())
    private let epoch = ContinuousClock.now

    public init(user: String, password: String?, tokenLifetime: Duration = .seconds(3600)) {
        self.user = user
        self.password = password
        self.tokenLifetime = tokenLifetime
    }

    /// Whether an admin password is configured (without one the admin API refuses everyone).
    public var isEnabled: Bool { password != nil }

    /// The outcome of a login attempt.
    public enum Login: Sendable, Equatable {
        case token(String)
        case refused
        /// Too many failures from this address lately.
        case throttled
    }

    /// Checks `user`/`password` from `address`; on success returns a new bearer token.
    public func login(user: String, password: String, from address: String) -> Login {
        let now = seconds()
        guard throttle.withLock({ $0.allows(address, now: now) }) else { return .throttled }
        guard matches(user: user, password: password) else {
            throttle.withLock { $0.failed(address, now: now) }
            return .refused
        }
        throttle.withLock { $0.succeeded(address) }
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in bytes.indices { bytes[index] = generator.next() }
        let token = Data(bytes).base64EncodedString()
        let expiry = ContinuousClock.now + tokenLifetime
        tokens.withLock { tokens in
            tokens = tokens.filter { $0.value > .now }
            tokens[token] = expiry
        }
        return .token(token)
    }

    /// Whether `token` was handed out by `login` and has not expired.
    public func accepts(token: String) -> Bool {
        tokens.withLock { $0[token].map { $0 > .now } ?? false }
    }

    /// Basic authentication: the user and password compared in constant time. Not throttled per address here; the
    /// HTTP layer counts failed Basic attempts with `recordFailure` / `isThrottled`.
    public func matches(user: String, password: String) -> Bool {
        guard let expected = self.password else { return false }
        let userOK = constantTimeEqual(Array(user.utf8), Array(self.user.utf8))
        let passwordOK = constantTimeEqual(Array(password.utf8), Array(expected.utf8))
        return userOK && passwordOK
    }

    /// Whether `address` is locked out after failed attempts.
    public func isThrottled(_ address: String) -> Bool {
        let now = seconds()
        return !throttle.withLock { $0.allows(address, now: now) }
    }

    /// Counts a failed Basic attempt from `address`.
    public func recordFailure(from address: String) {
        let now = seconds()
        throttle.withLock { $0.failed(address, now: now) }
    }

    private func seconds() -> Double {
        let elapsed = ContinuousClock.now - epoch
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// Compares SHA-256 digests (always 32 bytes) with `PasswordHash.constantTimeEquals`, so neither the length nor
    /// the first differing byte shows in the time taken.
    private func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        PasswordHash.constantTimeEquals(Array(SHA256.hash(data: a)), Array(SHA256.hash(data: b)))
    }
}
