import NIOCore

/// Reads a node's answer to the WebSocket upgrade request the gateway forwarded: bytes in, until the blank line
/// that ends the HTTP response head; then whether the status is `101`.
///
/// Pure. At most `maximumSize` bytes are read for the head; more without a blank line is refused. The node's `101`
/// is not relayed (the client already has the gateway's, with the same accept value); bytes after the head, if
/// any, belong to the WebSocket stream and are handed back in `.upgraded` to be relayed.
struct BackendHandshakeStateMachine {
    enum Outcome: Equatable, Sendable {
        case needMore
        /// Status 101; `rest` is what followed the head.
        case upgraded(rest: ByteBuffer)
        /// Anything else: `reason` says what (the status line, or that the head was too long or malformed).
        case refused(reason: String)
    }

    private var buffer = ByteBuffer()
    private let maximumSize: Int
    private var outcome = Outcome.needMore
    /// Where to resume looking for CR LF CR LF.
    private var searchFrom = 0

    init(maximumSize: Int = 8_192) {
        self.maximumSize = maximumSize
    }

    mutating func receive(_ bytes: ByteBuffer) -> Outcome {
        guard case .needMore = outcome else { return outcome }
        buffer.writeImmutableBuffer(bytes)
        let view = buffer.readableBytesView
        let terminator: [UInt8] = [13, 10, 13, 10]
        var end: Int?
        var index = max(0, searchFrom - 3)
        while index + 4 <= view.count {
            if view[view.startIndex + index] == 13, view.dropFirst(index).prefix(4).elementsEqual(terminator) {
                end = index
                break
            }
            index += 1
        }
        guard let end else {
            searchFrom = view.count
            if view.count > maximumSize {
                outcome = .refused(reason: "response head longer than \(maximumSize) bytes")
            }
            return outcome
        }
        guard end + 4 <= maximumSize else {
            outcome = .refused(reason: "response head longer than \(maximumSize) bytes")
            return outcome
        }
        let head = String(decoding: view.prefix(end), as: UTF8.self)
        let statusLine = head.split(separator: "\r\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let fields = statusLine.split(separator: " ", maxSplits: 2)
        guard fields.count >= 2, fields[0].hasPrefix("HTTP/1."), fields[1] == "101" else {
            outcome = .refused(reason: "node answered '\(statusLine.prefix(80))'")
            return outcome
        }
        outcome = .upgraded(rest: buffer.getSlice(at: buffer.readerIndex + end + 4, length: view.count - end - 4)!)
        return outcome
    }
}
