import NIOCore

/// A call frame's payload: call ID, deadline (milliseconds left when sent, so clocks need not agree), recipient,
/// target, generic substitutions, then the arguments to the end. Strings are u16-length-prefixed UTF-8.
struct CallEnvelope {
    /// The call ID of a one-way call: the callee sends no reply.
    static let oneWayID: UInt64 = 0

    var callID: UInt64
    var timeoutMillis: UInt32
    var recipient: ClusterActorID
    var target: String
    var substitutions: [String]
    var arguments: ByteBuffer

    func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(callID)
        buffer.writeInteger(timeoutMillis)
        switch recipient.address {
        case .owned(let node, let path):
            buffer.writeInteger(UInt8(1))
            buffer.writeShortString(node.name.rawValue)
            buffer.writeInteger(node.incarnation.rawValue)
            buffer.writeShortString(path.rawValue)
        case .keyed(let key):
            buffer.writeInteger(UInt8(2))
            buffer.writeShortString(key.rawValue)
        }
        buffer.writeShortString(target)
        buffer.writeInteger(UInt8(substitutions.count))
        for name in substitutions { buffer.writeShortString(name) }
        var arguments = arguments
        buffer.writeBuffer(&arguments)
    }

    /// Parses a call; nil when the payload is malformed (the caller of a frame it cannot parse gets no reply, since
    /// its call ID is unknown, and times out).
    static func decode(_ buffer: inout ByteBuffer) -> CallEnvelope? {
        guard let callID = buffer.readInteger(as: UInt64.self), let timeout = buffer.readInteger(as: UInt32.self),
            let kind = buffer.readInteger(as: UInt8.self)
        else { return nil }
        let recipient: ClusterActorID
        switch kind {
        case 1:
            guard let name = buffer.readShortString().flatMap(NodeName.init),
                let incarnation = buffer.readInteger(as: UInt64.self),
                let path = buffer.readShortString().flatMap(ActorPath.init)
            else { return nil }
            recipient = ClusterActorID(node: NodeID(name: name, incarnation: Incarnation(rawValue: incarnation)), path: path)
        case 2:
            guard let key = buffer.readShortString().flatMap(ActorKey.init) else { return nil }
            recipient = ClusterActorID(key: key)
        default:
            return nil
        }
        guard let target = buffer.readShortString(), let count = buffer.readInteger(as: UInt8.self) else { return nil }
        var substitutions: [String] = []
        for _ in 0..<count {
            guard let name = buffer.readShortString() else { return nil }
            substitutions.append(name)
        }
        return CallEnvelope(
            callID: callID, timeoutMillis: timeout, recipient: recipient, target: target,
            substitutions: substitutions, arguments: buffer.readSlice(length: buffer.readableBytes)!)
    }
}

/// A reply frame's payload: the call ID, then the outcome.
enum ReplyEnvelope {
    static func encode(callID: UInt64, _ outcome: CallOutcome, into buffer: inout ByteBuffer) {
        buffer.writeInteger(callID)
        switch outcome {
        case .void:
            buffer.writeInteger(UInt8(0))
        case .value(var value):
            buffer.writeInteger(UInt8(1))
            buffer.writeBuffer(&value)
        case .error(let name, var value):
            buffer.writeInteger(UInt8(2))
            buffer.writeShortString(name)
            buffer.writeBuffer(&value)
        case .systemError(let error):
            buffer.writeInteger(UInt8(3))
            try? BinaryEncoder().encode(error, into: &buffer)
        }
    }

    static func decode(_ buffer: inout ByteBuffer) -> (callID: UInt64, outcome: CallOutcome)? {
        guard let callID = buffer.readInteger(as: UInt64.self), let tag = buffer.readInteger(as: UInt8.self) else {
            return nil
        }
        let rest = { (buffer: inout ByteBuffer) in buffer.readSlice(length: buffer.readableBytes)! }
        switch tag {
        case 0: return (callID, .void)
        case 1: return (callID, .value(rest(&buffer)))
        case 2:
            guard let name = buffer.readShortString() else { return nil }
            return (callID, .error(name, rest(&buffer)))
        case 3:
            let error =
                (try? BinaryDecoder().decode(RemoteCallError.self, from: &buffer))
                ?? RemoteCallError(.serializationFailed, "unreadable error reply")
            return (callID, .systemError(error))
        default:
            return nil
        }
    }
}

extension ByteBuffer {
    /// Writes a UTF-8 string with a u16 length; longer strings are cut (names and identifiers are far shorter).
    mutating func writeShortString(_ string: String) {
        let count = min(string.utf8.count, Int(UInt16.max))
        writeInteger(UInt16(count))
        writeBytes(string.utf8.prefix(count))
    }

    mutating func readShortString() -> String? {
        guard let count = readInteger(as: UInt16.self), let bytes = readSlice(length: Int(count)) else { return nil }
        return String(validating: bytes.readableBytesView, as: UTF8.self)
    }
}
