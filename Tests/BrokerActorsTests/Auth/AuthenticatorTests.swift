import BrokerActors
import MQTTCore
import NIOCore
import Testing

extension AuthTests {
    @Suite("Authenticator")
    struct AuthenticatorTests {
        static let file: PasswordFile = {
            do { return try PasswordFile(contents: mosquittoPasswordFile) } catch { fatalError("\(error)") }
        }()

        static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

        typealias Row = (
            label: String, anonymous: Bool, file: Bool, user: String?, password: String?, result: AuthenticationResult
        )

        static let cases: [Row] = [
            ("anonymous allowed", true, true, nil, nil, .accepted(username: nil)),
            ("anonymous refused", false, true, nil, nil, .rejected(.anonymousNotAllowed)),
            ("anonymous refused without file", false, false, nil, nil, .rejected(.anonymousNotAllowed)),
            ("password without user name is anonymous", true, true, nil, "secret1", .accepted(username: nil)),
            ("password without user name, refused", false, true, nil, "secret1", .rejected(.anonymousNotAllowed)),
            ("good $7$ password", false, true, "alice", "secret1", .accepted(username: "alice")),
            ("good $6$ password", false, true, "carol", "hunter2", .accepted(username: "carol")),
            ("good empty password", false, true, "eve", "", .accepted(username: "eve")),
            ("good password, anonymous allowed too", true, true, "alice", "secret1", .accepted(username: "alice")),
            ("wrong password", false, true, "alice", "hunter2", .rejected(.wrongPassword)),
            ("wrong password even if anonymous allowed", true, true, "alice", "nope", .rejected(.wrongPassword)),
            ("unknown user", false, true, "mallory", "secret1", .rejected(.unknownUser)),
            ("unknown user is not let in as anonymous", true, true, "mallory", "x", .rejected(.unknownUser)),
            ("missing password", false, true, "alice", nil, .rejected(.missingPassword)),
            ("missing password, anonymous allowed", true, true, "alice", nil, .rejected(.missingPassword)),
            ("empty password is not a missing one", true, true, "alice", "", .rejected(.wrongPassword)),
            ("user name without file, anonymous allowed", true, false, "anyone", nil, .accepted(username: "anyone")),
            ("user name without file, anonymous refused", false, false, "anyone", "pw", .rejected(.noPasswordFile)),
        ]

        @Test("policy table", arguments: cases)
        func policy(
            label: String, anonymous: Bool, file: Bool, user: String?, password: String?, result: AuthenticationResult
        ) {
            let authenticator = Authenticator(passwordFile: file ? Self.file : nil, allowAnonymous: anonymous)
            let outcome = authenticator.authenticate(username: user, password: password.map(Self.bytes))
            #expect(outcome == result, "\(label)")
        }

        @Test func allowsAnonymousByDefault() {
            #expect(Authenticator().allowAnonymous)
            #expect(Authenticator().authenticate(username: nil, password: nil) == .accepted(username: nil))
        }

        @Test func reasonCodesMapToV5AndV3Connack() {
            #expect(AuthenticationResult.accepted(username: nil).reasonCode == .success)
            for rejection: AuthenticationRejection in [.missingPassword, .unknownUser, .wrongPassword] {
                #expect(rejection.reasonCode == .badUserNameOrPassword)
                #expect(rejection.reasonCode.rawValue == 0x86)
                #expect(rejection.reasonCode.v3ConnectReturnCode == 4)
            }
            for rejection: AuthenticationRejection in [.anonymousNotAllowed, .noPasswordFile] {
                #expect(rejection.reasonCode == .notAuthorized)
                #expect(rejection.reasonCode.rawValue == 0x87)
                #expect(rejection.reasonCode.v3ConnectReturnCode == 5)
            }
        }

        @Test func authenticatesADecodedConnect() {
            let authenticator = Authenticator(passwordFile: Self.file, allowAnonymous: false)
            let good = MQTTPacket.Connect(
                version: .v5, clientID: "c1", username: "alice", password: ByteBuffer(string: "secret1"))
            #expect(authenticator.authenticate(good) == .accepted(username: "alice"))
            let bad = MQTTPacket.Connect(
                version: .v3_1_1, clientID: "c1", username: "alice", password: ByteBuffer(string: "secret2"))
            #expect(authenticator.authenticate(bad).reasonCode.v3ConnectReturnCode == 4)
            let anonymous = MQTTPacket.Connect(version: .v3_1_1, clientID: "c1")
            #expect(authenticator.authenticate(anonymous).reasonCode.v3ConnectReturnCode == 5)
        }
    }
}
