import Synchronization

/// FIFO inboxes for inbound calls, one per (calling node, recipient): the calls one node makes to one actor run one
/// after another, in the order they were sent. (A task per call would lose that order, and MQTT delivery order
/// depends on it.) An inbox exists only while it has work; its drainer task ends when it is empty.
final class InboxTable: Sendable {
    typealias Job = @Sendable () async -> Void

    struct Key: Hashable, Sendable {
        let source: NodeName
        let recipient: ClusterActorID
    }

    /// A key is present exactly while a drainer runs for it; the array holds the jobs it has not taken yet.
    private let queues = Mutex<[Key: [Job]]>([:])

    func submit(_ key: Key, _ job: @escaping Job) {
        let start = queues.withLock { queues in
            if queues[key] != nil {
                queues[key]!.append(job)
                return false
            }
            queues[key] = []
            return true
        }
        if start {
            Task {
                await job()
                await self.drain(key)
            }
        }
    }

    private func drain(_ key: Key) async {
        while true {
            let jobs = queues.withLock { queues in
                let jobs = queues[key] ?? []
                queues[key] = jobs.isEmpty ? nil : []
                return jobs
            }
            if jobs.isEmpty { return }
            for job in jobs { await job() }
        }
    }

    var activeCount: Int { queues.withLock { $0.count } }
}
