import MQTTClient
import MQTTCore
import NIOCore
import Synchronization

/// Collects a client's `messages` in the background so that checks can wait for a count with a deadline.
final class MessageCollector: Sendable {
    private final class Box: Sendable {
        let messages = Mutex<[MQTTPacket.Publish]>([])
    }

    private let box: Box
    private let task: Task<Void, Never>

    init(_ client: MQTTClient) {
        let box = Box()
        self.box = box
        task = Task {
            for await message in client.messages { box.messages.withLock { $0.append(message) } }
        }
    }

    deinit { task.cancel() }

    var received: [MQTTPacket.Publish] { box.messages.withLock { $0 } }

    /// Waits until at least `count` messages arrived; throws after `timeout`.
    func waitFor(_ count: Int, timeout: Duration = .seconds(5)) async throws -> [MQTTPacket.Publish] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let received = self.received
            if received.count >= count { return received }
            guard ContinuousClock.now < deadline else {
                throw BenchError("got \(received.count) of \(count) messages in \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

/// Waits for the connection to close; throws after `timeout`.
func waitForClose(_ client: MQTTClient, timeout: Duration = .seconds(5)) async throws -> MQTTClient.CloseInfo {
    let promise = client.eventLoop.makePromise(of: MQTTClient.CloseInfo?.self)
    client.closeFuture.whenSuccess { promise.succeed($0) }
    let timer = client.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout / .nanoseconds(1)))) {
        promise.succeed(nil)
    }
    defer { timer.cancel() }
    guard let info = try await promise.futureResult.get() else { throw BenchError("still connected after \(timeout)") }
    return info
}

func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw BenchError(message()) }
}
