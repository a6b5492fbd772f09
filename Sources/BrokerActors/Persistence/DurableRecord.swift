import MQTTCore

/// One record of a node's data directory. Sessions are stored as a snapshot followed by their events (each with
/// the session's event sequence number, so that replay skips what a snapshot already holds); retained messages as
/// their last write per topic.
public enum DurableRecord: Sendable, Codable {
    /// The log generation a snapshot file covers: logs of this generation and later are replayed on top of it.
    case generation(UInt64)
    case session(ClientID, sequence: UInt64, SessionSnapshot)
    case event(ClientID, sequence: UInt64, SessionEvent)
    /// The session ended, or moved to another node (which stores it from then on).
    case sessionEnded(ClientID)
    case retained(shard: Int, RetainedRecord)
}

/// What a data directory holds once its records are folded: the persistent sessions and the retained writes.
public struct RestoredState: Sendable {
    public var sessions: [ClientID: (sequence: UInt64, snapshot: SessionSnapshot)] = [:]
    public var retained: [Int: [TopicName: RetainedRecord]] = [:]
    /// Events that could not be applied (no snapshot before them, or a gap in the sequence).
    public private(set) var skippedEvents = 0

    public init() {}

    /// Folds one record in, in file order (the snapshot file, then the logs).
    ///
    /// A `.session` record replaces what is held: in a log it was written when the session was (re)stored, and
    /// every event after it follows it in the log. An event applies when it is the next one of its session; one the
    /// held state already includes (a snapshot taken while the log was being written) is skipped; one after a gap,
    /// or without a snapshot, is skipped and counted.
    public mutating func apply(_ record: DurableRecord) {
        switch record {
        case .generation:
            break
        case .session(let clientID, let sequence, let snapshot):
            sessions[clientID] = (sequence, snapshot)
        case .event(let clientID, let sequence, let event):
            guard let current = sessions[clientID]?.sequence, sequence == current + 1 else {
                if let current = sessions[clientID]?.sequence, sequence <= current { return }
                skippedEvents += 1
                return
            }
            sessions[clientID]!.snapshot.apply(event)
            sessions[clientID]!.sequence = sequence
        case .sessionEnded(let clientID):
            sessions[clientID] = nil
        case .retained(let shard, let record):
            if let current = retained[shard]?[record.topic], current.version >= record.version { return }
            retained[shard, default: [:]][record.topic] = record
        }
    }
}
