import ArgumentParser
import BrokerActors

extension NodeCommand {
    /// Loads the password file and ACL named by the flags; a bad file stops the node with an error naming the flag.
    func makePolicy() throws -> any AccessPolicy {
        var passwords: PasswordFile?
        if let passwordFile {
            do { passwords = try PasswordFile(contentsOfFile: passwordFile) } catch {
                throw ValidationError("--password-file \(passwordFile): \(error)")
            }
        }
        var acl: AccessControlList?
        if let aclFile {
            do { acl = try AccessControlList(contentsOfFile: aclFile) } catch {
                throw ValidationError("--acl-file \(aclFile): \(error)")
            }
        }
        if passwords == nil, acl == nil, allowAnonymous { return AllowAllPolicy() }
        return ConfiguredPolicy(
            authenticator: Authenticator(passwordFile: passwords, allowAnonymous: allowAnonymous), acl: acl)
    }
}
