import BrokerActors
import Foundation
import Hummingbird

/// Lets a request through to the admin API only with `Authorization: Bearer <token from /api/v5/login>` or
/// `Authorization: Basic <admin user:password>`; anything else gets 401 (with `WWW-Authenticate`), and an address
/// that failed too often lately gets 429.
struct AdminAuthMiddleware: RouterMiddleware {
    typealias Context = NodeRequestContext
    let access: AdminAccess

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let address = context.clientAddress
        guard !access.isThrottled(address) else { throw HTTPError(.tooManyRequests, message: "too many failed logins") }
        let header = request.headers[.authorization] ?? ""
        if header.hasPrefix("Bearer "), access.accepts(token: String(header.dropFirst(7))) {
            return try await next(request, context)
        }
        if header.hasPrefix("Basic "), let decoded = Data(base64Encoded: String(header.dropFirst(6))),
            let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":")
        {
            if access.matches(user: String(text[..<colon]), password: String(text[text.index(after: colon)...])) {
                return try await next(request, context)
            }
            access.recordFailure(from: address)
        }
        throw HTTPError(
            .unauthorized, headers: [.wwwAuthenticate: "Basic realm=\"starling\", Bearer"],
            message: access.isEnabled ? "login required" : "no admin password is configured (--admin-password)")
    }
}
