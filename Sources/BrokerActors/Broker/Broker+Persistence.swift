import ClusterTransport
import Distributed
import MQTTCore

/// The data directory: what sessions and retained stores write, restoring it at start, and compaction.
extension Broker {
    public var persists: Bool { store != nil }

    public func persist(_ record: DurableRecord) {
        store?.append(record)
    }

    /// Brings back what the data directory held: the persistent sessions (offline: a client that was connected
    /// when the node stopped lost its connection, so its will takes its course) and the retained messages. Call it
    /// before the listeners start. When the cluster forms, sessions another node owns are handed over to it.
    public func restore(_ state: RestoredState) async {
        for (_, entry) in state.sessions {
            _ = await adoptLocally(entry.snapshot, connectionLost: true)
        }
        for (shard, records) in state.retained where retained.indices.contains(shard) {
            try? await retained[shard].merge(Array(records.values))
        }
        if !state.sessions.isEmpty || !state.retained.isEmpty {
            logger.info(
                "restored from the data directory",
                metadata: ["store/sessions": "\(state.sessions.count)", "store/retained": "\(state.retained.values.reduce(0) { $0 + $1.count })"])
        }
    }

    /// Compacts the data directory whenever its log has grown past the store's threshold; runs until cancelled.
    public func compactPeriodically(every interval: Duration = .seconds(5)) async {
        guard let store else { return }
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            guard store.logSize > store.compactAbove else { continue }
            await compact()
        }
    }

    /// Writes the whole state as a new snapshot and drops the older logs.
    public func compact() async {
        guard let store else { return }
        do {
            try await store.compact {
                var records: [DurableRecord] = []
                for (_, session) in sessions.all {
                    if let record = await session.whenLocal({ $0.durableRecord() }) ?? nil { records.append(record) }
                }
                for shard in retained {
                    records += await shard.whenLocal { $0.durableRecords() } ?? []
                }
                return records
            }
        } catch {
            logger.error("data directory compaction failed", metadata: ["error": "\(error)"])
        }
    }
}
