import MQTTCore

/// The requests of one connection that hold a packet identifier, keyed by that identifier. `insert` picks the next
/// free identifier after the last one handed out, wrapping from 65535 to 1 and skipping identifiers still in use
/// [MQTT-2.2.1-3] [MQTT-2.2.1-4]. Pure value type.
struct PacketIDTable<Value> {
    private var entries: [UInt16: Value] = [:]
    private var last: UInt16 = 0

    /// The number of identifiers in use.
    var count: Int { entries.count }

    /// Whether every identifier (1...65535) is in use.
    var isFull: Bool { entries.count == Int(UInt16.max) }

    /// Stores `value` under the next free identifier and returns it, or returns nil when all 65535 are in use.
    mutating func insert(_ value: Value) -> PacketID? {
        guard !isFull else { return nil }
        var candidate = last
        repeat {
            candidate = candidate == .max ? 1 : candidate + 1
        } while entries[candidate] != nil
        last = candidate
        entries[candidate] = value
        return PacketID(rawValue: candidate)
    }

    subscript(id: PacketID) -> Value? {
        get { entries[id.rawValue] }
        set { entries[id.rawValue] = newValue }
    }

    /// Frees the identifier and returns what it held.
    @discardableResult
    mutating func remove(_ id: PacketID) -> Value? {
        entries.removeValue(forKey: id.rawValue)
    }

    /// Empties the table and returns every value it held.
    mutating func removeAll() -> [Value] {
        let values = Array(entries.values)
        entries.removeAll()
        return values
    }
}
