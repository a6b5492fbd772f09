extension ClusterSystem {
    /// Waits on membership events until the view satisfies `condition`, for at most `timeout`; returns that view.
    /// For start-up code that must not act before the cluster has formed, and for tests.
    @discardableResult
    public func awaitMembership(
        within timeout: Duration, _ condition: @escaping @Sendable (MembershipSnapshot) -> Bool
    ) async throws -> MembershipSnapshot {
        let events = membershipEvents()
        let current = membership
        if condition(current) { return current }
        return try await withThrowingTaskGroup(of: MembershipSnapshot?.self) { group in
            group.addTask {
                for await _ in events {
                    let view = self.membership
                    if condition(view) { return view }
                }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let reached = try await group.next() ?? nil
            group.cancelAll()
            guard let reached else {
                let view = membership.members.map { "\($0.id)=\($0.status)" }.joined(separator: ", ")
                throw MembershipTimeout(description: "membership of \(node) did not reach the condition in \(timeout): \(view)")
            }
            return reached
        }
    }
}

public struct MembershipTimeout: Error, CustomStringConvertible {
    public let description: String
}
