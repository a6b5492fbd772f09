/// Hand-built MQTT bytes, for packets the codec would refuse to encode (malformed input, MQTT 3.1's `MQIsdp`).
enum Wire {
    /// A whole packet: the first byte, the remaining length, the body.
    static func packet(_ firstByte: UInt8, _ body: [UInt8]) -> [UInt8] {
        [firstByte] + varint(body.count) + body
    }

    /// A UTF-8 string with its two-byte length.
    static func string(_ value: String) -> [UInt8] {
        u16(value.utf8.count) + Array(value.utf8)
    }

    /// Raw bytes with a two-byte length (binary data, or a string that is not valid UTF-8).
    static func lengthPrefixed(_ bytes: [UInt8]) -> [UInt8] {
        u16(bytes.count) + bytes
    }

    static func u16(_ value: Int) -> [UInt8] {
        [UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    static func varint(_ value: Int) -> [UInt8] {
        var value = value
        var bytes: [UInt8] = []
        repeat {
            var byte = UInt8(value % 128)
            value /= 128
            if value > 0 { byte |= 0x80 }
            bytes.append(byte)
        } while value > 0
        return bytes
    }

    /// CONNECT with no will and no credentials, for any protocol name and level. MQTT 5 gets an empty property block.
    static func connect(
        protocolName: String = "MQTT", level: UInt8, clientID: String, cleanStart: Bool = true, keepAlive: Int = 60
    ) -> [UInt8] {
        var body = string(protocolName) + [level, cleanStart ? 0x02 : 0x00] + u16(keepAlive)
        if level == 5 { body += [0x00] }
        body += string(clientID)
        return packet(0x10, body)
    }
}
