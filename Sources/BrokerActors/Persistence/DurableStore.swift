import Foundation
import NIOCore
import Synchronization

/// A node's data directory (`--data-dir`): persistent sessions and retained messages, as a snapshot file plus an
/// append-only log.
///
/// - `snapshot.bin` starts with `.generation(g)` and holds every session and retained write as of when it was taken;
/// - `log-<g>.bin` and later logs hold what changed after; replay skips events a snapshot already holds (sessions
///   carry sequence numbers, retained writes merge last-writer-wins).
///
/// Opening the store folds everything, then compacts: it writes a fresh snapshot for a new generation (to a
/// temporary file, synced, then renamed over the old one) and deletes the older logs. A crash at any point leaves
/// either the old snapshot with its logs or the new one. The running node compacts again whenever the log grows
/// past `compactAbove` bytes.
public final class DurableStore: Sendable {
    public let directory: String
    public let compactAbove: Int
    private let current: Mutex<(generation: UInt64, log: DurableLog)>

    private init(directory: String, generation: UInt64, log: DurableLog, compactAbove: Int) {
        self.directory = directory
        self.compactAbove = compactAbove
        self.current = Mutex((generation, log))
    }

    /// Opens (creating it if needed) the data directory; returns the store and what it held.
    public static func open(directory: String, compactAbove: Int = 64 << 20) throws -> (DurableStore, RestoredState) {
        let files = FileManager.default
        do {
            try files.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw DurableStoreError(path: directory, reason: "cannot create the data directory: \(error.localizedDescription)")
        }
        guard files.isWritableFile(atPath: directory) else {
            throw DurableStoreError(path: directory, reason: "the data directory is not writable")
        }
        var restored = RestoredState()
        let (snapshot, _) = try DurableLog.read(path: path(directory, "snapshot.bin"))
        var base: UInt64 = 0
        if case .generation(let generation) = snapshot.first { base = generation }
        for record in snapshot { restored.apply(record) }
        let logs = try logGenerations(in: directory)
        for generation in logs where generation >= base {
            for record in try DurableLog.read(path: logPath(directory, generation)).records { restored.apply(record) }
        }
        let next = max(base, logs.max() ?? 0) + 1
        let log = try DurableLog(path: logPath(directory, next))
        let store = DurableStore(directory: directory, generation: next, log: log, compactAbove: compactAbove)
        try store.writeSnapshot(generation: next, records: records(of: restored))
        return (store, restored)
    }

    /// Queues a record on the current log.
    public func append(_ record: DurableRecord) {
        current.withLock { $0.log }.append(record)
    }

    /// Returns once everything appended so far is on disk.
    public func flush() async {
        await current.withLock { $0.log }.flush()
    }

    public var logSize: Int { current.withLock { $0.log }.size }

    /// Starts a new log generation, collects the whole state (after the switch, so nothing is missed), and writes it
    /// as the new snapshot; then deletes the older logs.
    public func compact(collect: () async -> [DurableRecord]) async throws {
        let (generation, old) = try current.withLock { current -> (UInt64, DurableLog) in
            let old = current.log
            let next = current.generation + 1
            current = (next, try DurableLog(path: Self.logPath(directory, next)))
            return (next, old)
        }
        await old.flush()
        try writeSnapshot(generation: generation, records: await collect())
    }

    private func writeSnapshot(generation: UInt64, records: [DurableRecord]) throws {
        let temporary = Self.path(directory, "snapshot.tmp")
        try? FileManager.default.removeItem(atPath: temporary)
        do {
            let log = try DurableLog(path: temporary, writesInBackground: false)
            log.append(.generation(generation))
            for record in records { log.append(record) }
            try log.syncNow()
        }
        guard rename(temporary, Self.path(directory, "snapshot.bin")) == 0 else {
            throw DurableStoreError.errno(temporary, "rename")
        }
        let fd = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
        for old in try Self.logGenerations(in: directory) where old < generation {
            try? FileManager.default.removeItem(atPath: Self.logPath(directory, old))
        }
    }

    /// The records that rebuild `state`.
    static func records(of state: RestoredState) -> [DurableRecord] {
        var records: [DurableRecord] = state.sessions.map { .session($0.key, sequence: $0.value.sequence, $0.value.snapshot) }
        for (shard, topics) in state.retained {
            records += topics.values.map { .retained(shard: shard, $0) }
        }
        return records
    }

    private static func path(_ directory: String, _ name: String) -> String { directory + "/" + name }

    private static func logPath(_ directory: String, _ generation: UInt64) -> String {
        path(directory, "log-\(generation).bin")
    }

    private static func logGenerations(in directory: String) throws -> [UInt64] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name in
            guard name.hasPrefix("log-"), name.hasSuffix(".bin") else { return nil }
            return UInt64(name.dropFirst(4).dropLast(4))
        }.sorted()
    }
}
