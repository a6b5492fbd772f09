import MQTTCore
import NIOCore
import Testing

@testable import Gateway

/// The gateway's first-packet parsing: bytes in, need more / CONNECT / reject out.
@Suite("first packet")
struct FirstPacketStateMachineTests {
    static func connectBytes(
        _ version: MQTTProtocolVersion, clientID: String, properties: MQTTProperties = .init()
    ) -> [UInt8] {
        var buffer = ByteBuffer()
        MQTTPacket.connect(.init(version: version, clientID: clientID, properties: properties))
            .encode(version: version, into: &buffer)
        return Array(buffer.readableBytesView)
    }

    static func feed(_ chunks: [[UInt8]], maximumSize: Int = 65_536) -> [FirstPacketStateMachine.Outcome] {
        var machine = FirstPacketStateMachine(maximumSize: maximumSize)
        return chunks.map { machine.receive(ByteBuffer(bytes: $0)) }
    }

    @Test("CONNECT of each version is recognised, with its client ID", arguments: [
        MQTTProtocolVersion.v3_1, .v3_1_1, .v5,
    ])
    func connectEachVersion(version: MQTTProtocolVersion) {
        let outcomes = Self.feed([Self.connectBytes(version, clientID: "client-\(version)")])
        #expect(outcomes == [.connect(.init(clientID: "client-\(version)", version: version))])
    }

    @Test("a CONNECT split at every byte boundary: need more until the last byte, then CONNECT; bytes kept in order")
    func splitAtEveryBoundary() {
        for version in [MQTTProtocolVersion.v3_1, .v3_1_1, .v5] {
            var properties = MQTTProperties()
            properties.sessionExpiryInterval = 300
            let bytes = Self.connectBytes(version, clientID: "split-me", properties: version == .v5 ? properties : .init())
            for cut in 1..<bytes.count {
                var machine = FirstPacketStateMachine(maximumSize: 65_536)
                #expect(machine.receive(ByteBuffer(bytes: bytes[..<cut])) == .needMore, "\(version) cut \(cut)")
                #expect(
                    machine.receive(ByteBuffer(bytes: bytes[cut...])) == .connect(.init(clientID: "split-me", version: version)),
                    "\(version) cut \(cut)")
                #expect(Array(machine.bufferedBytes.readableBytesView) == bytes)
            }
            // One byte at a time.
            var machine = FirstPacketStateMachine(maximumSize: 65_536)
            for (index, byte) in bytes.enumerated() {
                let outcome = machine.receive(ByteBuffer(bytes: [byte]))
                #expect(outcome == (index == bytes.count - 1 ? .connect(.init(clientID: "split-me", version: version)) : .needMore))
            }
        }
    }

    @Test("bytes after the CONNECT (a pipelined SUBSCRIBE) are kept for the replay; the verdict stays")
    func pipelinedBytesKept() {
        let connect = Self.connectBytes(.v3_1_1, clientID: "pipe")
        let extra: [UInt8] = [0x82, 0x08, 0x00, 0x01, 0x00, 0x03, 0x61, 0x2F, 0x62, 0x01]
        var machine = FirstPacketStateMachine(maximumSize: 65_536)
        #expect(machine.receive(ByteBuffer(bytes: connect + extra.prefix(3))) == .connect(.init(clientID: "pipe", version: .v3_1_1)))
        #expect(machine.receive(ByteBuffer(bytes: extra.dropFirst(3))) == .connect(.init(clientID: "pipe", version: .v3_1_1)))
        #expect(Array(machine.bufferedBytes.readableBytesView) == connect + extra)
    }

    @Test("an empty client ID is a CONNECT with an empty ID")
    func emptyClientID() {
        #expect(Self.feed([Self.connectBytes(.v5, clientID: "")]) == [.connect(.init(clientID: "", version: .v5))])
        #expect(Self.feed([Self.connectBytes(.v3_1_1, clientID: "")]) == [.connect(.init(clientID: "", version: .v3_1_1))])
    }

    @Test("a 200-character client ID is kept whole")
    func longClientID() {
        let id = String(repeating: "abcdefghij", count: 20)
        #expect(Self.feed([Self.connectBytes(.v5, clientID: id)]) == [.connect(.init(clientID: id, version: .v5))])
    }

    @Test("a first packet that is not CONNECT is refused on its first byte, with no response")
    func notConnect() {
        for first: UInt8 in [0x30, 0x82, 0xC0, 0xE0, 0x20, 0x00, 0xF0, 0x47] {
            let outcomes = Self.feed([[first]])
            guard case .reject(let rejection) = outcomes.first else {
                Issue.record("first byte \(first): \(outcomes)")
                continue
            }
            #expect(rejection.response == nil)
        }
        // Not MQTT at all.
        guard case .reject = Self.feed([Array("GET / HTTP/1.1\r\n".utf8)]).first else {
            Issue.record("HTTP was not refused")
            return
        }
    }

    @Test("an oversized remaining length is refused as soon as the fixed header says so")
    func oversized() {
        // 0x10, remaining length 65536 (0x80 0x80 0x04): refused after 4 bytes, before any body.
        var machine = FirstPacketStateMachine(maximumSize: 65_536)
        #expect(machine.receive(ByteBuffer(bytes: [0x10])) == .needMore)
        #expect(machine.receive(ByteBuffer(bytes: [0x80, 0x80])) == .needMore)
        guard case .reject(let rejection) = machine.receive(ByteBuffer(bytes: [0x04])) else {
            Issue.record("not refused")
            return
        }
        #expect(rejection.response == nil, "the version is unknown before the body: just close")
        // Exactly at the limit the header is fine (the body is awaited).
        var fits = FirstPacketStateMachine(maximumSize: 100)
        #expect(fits.receive(ByteBuffer(bytes: [0x10, 98])) == .needMore)
        var over = FirstPacketStateMachine(maximumSize: 100)
        if case .reject = over.receive(ByteBuffer(bytes: [0x10, 99])) {} else { Issue.record("101 bytes not refused") }
        // A remaining length of more than four bytes is malformed.
        if case .reject = Self.feed([[0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]]).first {} else { Issue.record("5-byte length") }
    }

    @Test("a malformed v5 CONNECT gets CONNACK 0x81; an unknown level gets 0x84 (v5) or 0x01 (v3)")
    func malformedResponses() {
        // v5 CONNECT with the reserved connect flag set.
        var v5 = Self.connectBytes(.v5, clientID: "bad")
        v5[9] |= 0x01
        guard case .reject(let malformed)? = Self.feed([v5]).first, let response = malformed.response else {
            Issue.record("no CONNACK for a malformed v5 CONNECT")
            return
        }
        #expect(Array(response.readableBytesView) == [0x20, 0x03, 0x00, 0x81, 0x00])
        // Protocol level 6: unsupported, answered as v5.
        var level6 = Self.connectBytes(.v5, clientID: "x")
        level6[8] = 6
        guard case .reject(let unsupported)? = Self.feed([level6]).first, let answer = unsupported.response else {
            Issue.record("no CONNACK for level 6")
            return
        }
        #expect(Array(answer.readableBytesView) == [0x20, 0x03, 0x00, 0x84, 0x00])
        // A malformed v3.1.1 CONNECT: just close.
        var v311 = Self.connectBytes(.v3_1_1, clientID: "bad")
        v311[9] |= 0x01
        guard case .reject(let closeOnly)? = Self.feed([v311]).first else {
            Issue.record("malformed 3.1.1 CONNECT accepted")
            return
        }
        #expect(closeOnly.response == nil)
    }
}
