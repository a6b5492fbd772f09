/// Classifies the sequence numbers one subscriber receives from one publisher, in bounded memory.
///
/// Every number below `floor` has been seen (or was given up on); a window of `windowSize` bits above `floor`
/// remembers which later numbers arrived. A number below `floor`, or one whose bit is set, is a duplicate. A new
/// number below the highest seen so far arrived out of order. When a number lands beyond the window, the window
/// slides and the numbers it leaves behind unseen are counted in `skipped` (they are lost, or arrive so late that
/// they count as duplicates).
struct SequenceTracker {
    enum Observation: Equatable { case inOrder, outOfOrder, duplicate }

    static let windowSize = 4096
    private static let wordBits = 64

    private var floor: UInt32 = 0
    private var highest: UInt32?
    private var window = [UInt64](repeating: 0, count: SequenceTracker.windowSize / SequenceTracker.wordBits)
    /// Where bit 0 of the window (the number `floor`) lives in `window`, so that sliding is O(1) per number.
    private var origin = 0
    private(set) var skipped: UInt64 = 0

    mutating func observe(_ sequence: UInt32) -> Observation {
        guard sequence >= floor else { return .duplicate }
        var offset = Int(sequence - floor)
        if offset >= Self.windowSize {
            slide(by: offset - Self.windowSize + 1)
            offset = Self.windowSize - 1
        }
        let (word, bit) = position(offset)
        if window[word] & (1 << UInt64(bit)) != 0 { return .duplicate }
        window[word] |= 1 << UInt64(bit)
        let observation: Observation
        if let highest, sequence < highest { observation = .outOfOrder } else { observation = .inOrder }
        if highest.map({ sequence > $0 }) ?? true { highest = sequence }
        advanceFloor()
        return observation
    }

    private func position(_ offset: Int) -> (word: Int, bit: Int) {
        let absolute = (origin + offset) % Self.windowSize
        return (absolute / Self.wordBits, absolute % Self.wordBits)
    }

    private func isSet(_ offset: Int) -> Bool {
        let (word, bit) = position(offset)
        return window[word] & (1 << UInt64(bit)) != 0
    }

    private mutating func clearAndStep() {
        let (word, bit) = position(0)
        window[word] &= ~(1 << UInt64(bit))
        origin = (origin + 1) % Self.windowSize
        floor &+= 1
    }

    /// Moves the floor past every number that has arrived contiguously.
    private mutating func advanceFloor() {
        while isSet(0) { clearAndStep() }
    }

    /// Forces the floor up by `count`, counting the unseen numbers left behind.
    private mutating func slide(by count: Int) {
        for _ in 0..<count {
            if !isSet(0) { skipped += 1 }
            clearAndStep()
        }
    }
}
