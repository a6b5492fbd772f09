/// Runs `body` for 0..<count with at most `limit` calls at once and returns the results in index order. The first
/// error cancels the rest and is rethrown.
func concurrentMap<T: Sendable>(
    _ count: Int, limit: Int, _ body: @escaping @Sendable (Int) async throws -> T
) async throws -> [T] {
    try await withThrowingTaskGroup(of: (Int, T).self) { group in
        var results = [T?](repeating: nil, count: count)
        var next = 0
        func addNext() {
            let index = next
            group.addTask { (index, try await body(index)) }
            next += 1
        }
        while next < min(limit, count) { addNext() }
        while let (index, value) = try await group.next() {
            results[index] = value
            if next < count { addNext() }
        }
        return results.map { $0! }
    }
}
