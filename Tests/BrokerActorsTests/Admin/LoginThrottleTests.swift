import Testing

@testable import BrokerActors

@Suite("login throttle")
struct LoginThrottleTests {
    @Test("5 failures within the window lock the address out for the lockout; others are not affected")
    func lockout() {
        var throttle = LoginThrottle()
        for k in 0..<4 { throttle.failed("10.0.0.1", now: Double(k)) }
        #expect(throttle.allows("10.0.0.1", now: 4))
        throttle.failed("10.0.0.1", now: 4)
        #expect(!throttle.allows("10.0.0.1", now: 4))
        #expect(!throttle.allows("10.0.0.1", now: 63.9))
        #expect(throttle.allows("10.0.0.1", now: 64))
        #expect(throttle.allows("10.0.0.2", now: 5))
    }

    @Test("failures spread over more than the window never lock; a success clears them")
    func window() {
        var throttle = LoginThrottle()
        for k in 0..<20 { throttle.failed("a", now: Double(k) * 16) }  // at most 4 in any 60 s
        #expect(throttle.allows("a", now: 400))
        for k in 0..<4 { throttle.failed("b", now: Double(k)) }
        throttle.succeeded("b")
        throttle.failed("b", now: 5)
        #expect(throttle.allows("b", now: 5))
    }

    @Test("the address table stays bounded")
    func bounded() {
        var configuration = LoginThrottle.Configuration()
        configuration.maxAddresses = 100
        var throttle = LoginThrottle(configuration: configuration)
        for k in 0..<1000 { throttle.failed("addr-\(k)", now: Double(k) * 61) }  // each failure older than the window
        #expect(throttle.trackedAddresses <= 100, "\(throttle.trackedAddresses)")
        #expect(throttle.allows("addr-999", now: 1000 * 61))
    }

    @Test("AdminAccess: no password refuses everyone; tokens are checked; wrong passwords are throttled")
    func access() {
        let closed = AdminAccess(user: "admin", password: nil)
        #expect(!closed.matches(user: "admin", password: ""))
        #expect(closed.login(user: "admin", password: "", from: "x") == .refused)
        let open = AdminAccess(user: "admin", password: "pw")
        #expect(open.matches(user: "admin", password: "pw"))
        #expect(!open.matches(user: "admin", password: "pw2"))
        #expect(!open.matches(user: "root", password: "pw"))
        guard case .token(let token) = open.login(user: "admin", password: "pw", from: "x") else {
            Issue.record("no token")
            return
        }
        #expect(open.accepts(token: token))
        #expect(!open.accepts(token: token + "x"))
        for _ in 0..<5 { _ = open.login(user: "admin", password: "bad", from: "y") }
        #expect(open.login(user: "admin", password: "pw", from: "y") == .throttled)
        #expect(open.isThrottled("y"))
    }
}
