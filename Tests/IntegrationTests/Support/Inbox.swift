import Synchronization

/// A FIFO of events produced on an event loop and consumed by a test, with a deadline on every wait. Waiting is on
/// the arrival of the next element (a continuation), never on a fixed sleep; the deadline only bounds a wait that
/// would otherwise hang.
final class Inbox<Element: Sendable>: Sendable {
    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Element?, Never>
    }

    private struct State {
        var items: [Element] = []
        var head = 0
        var finished = false
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    init() {}

    /// Adds an element, handing it straight to the oldest waiter if there is one.
    func append(_ element: Element) {
        let waiter: Waiter? = state.withLock { s in
            if !s.waiters.isEmpty { return s.waiters.removeFirst() }
            s.items.append(element)
            return nil
        }
        waiter?.continuation.resume(returning: element)
    }

    /// No more elements will come: waiters get nil once the buffered elements are consumed.
    func finish() {
        let waiters: [Waiter] = state.withLock { s in
            s.finished = true
            defer { s.waiters.removeAll() }
            return s.waiters
        }
        for waiter in waiters { waiter.continuation.resume(returning: nil) }
    }

    /// The next element; nil when the inbox finished or nothing arrived within `timeout`.
    func next(within timeout: Duration) async -> Element? {
        let id: UInt64 = state.withLock { s in
            s.nextID += 1
            return s.nextID
        }
        return await withCheckedContinuation { (continuation: CheckedContinuation<Element?, Never>) in
            // (element, done): an element at once, nil at once (finished), or wait.
            let (element, done): (Element?, Bool) = state.withLock { s in
                if s.head < s.items.count {
                    let element = s.items[s.head]
                    s.head += 1
                    if s.head == s.items.count {
                        s.items.removeAll(keepingCapacity: true)
                        s.head = 0
                    }
                    return (element, true)
                }
                if s.finished { return (nil, true) }
                s.waiters.append(Waiter(id: id, continuation: continuation))
                return (nil, false)
            }
            if done {
                continuation.resume(returning: element)
            } else {
                // The deadline: if the waiter is still registered then, it gets nil.
                Task { [self] in
                    try? await Task.sleep(for: timeout)
                    let expired: Waiter? = self.state.withLock { s in
                        guard let index = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                        return s.waiters.remove(at: index)
                    }
                    expired?.continuation.resume(returning: nil)
                }
            }
        }
    }
}

/// Thrown when a condition was not reached before its deadline.
struct TimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Polls `condition` until it holds, for at most `timeout`. For state that has no event to wait on (a process's
/// memory, a file, a port); the poll interval is not a synchronisation point, the deadline is.
func waitUntil(
    _ what: String, within timeout: Duration = .seconds(10), every interval: Duration = .milliseconds(25),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return }
        guard ContinuousClock.now < deadline else { throw TimedOut(what: what) }
        try await Task.sleep(for: interval)
    }
}
