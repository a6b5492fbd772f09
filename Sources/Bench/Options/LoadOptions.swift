import ArgumentParser
import MQTTCore

/// How much load the publish/subscribe scenarios generate and for how long.
struct LoadOptions: ParsableArguments {
    @Option(help: "QoS of publishes and subscriptions: 0, 1 or 2.")
    var qos = 0

    @Option(help: "Payload size in bytes (at least the 16-byte header).")
    var size = 64

    @Option(help: "Messages per second per publisher; 0 means as fast as the connection allows.")
    var rate: Double = 0

    @Option(help: "Seconds of publishing.")
    var duration: Double = 10

    @Option(name: .customLong("max-messages"), help: "Upper bound on messages per publisher.")
    var maxMessages = 10_000_000

    @Option(help: "Most unacknowledged QoS 1/2 messages per publisher (also capped by the broker's Receive Maximum).")
    var inflight = 64

    @Option(help: "Most messages a publisher writes per flush.")
    var batch = 64

    @Option(help: "Seconds to wait after publishing for messages still on their way.")
    var drain: Double = 2

    @Flag(help: "Print only the final RESULT line (no progress, no summary).")
    var json = false

    func validate() throws {
        guard MQTTQoS(rawValue: UInt8(clamping: qos)) != nil, qos >= 0 else { throw ValidationError("--qos must be 0, 1 or 2") }
        guard size >= BenchPayload.headerSize, size <= 256 * 1024 * 1024 else {
            throw ValidationError("--size must be at least \(BenchPayload.headerSize)")
        }
        guard rate >= 0 else { throw ValidationError("--rate must not be negative") }
        guard duration > 0, duration <= 86_400 else { throw ValidationError("--duration must be in (0, 86400]") }
        guard maxMessages > 0 else { throw ValidationError("--max-messages must be positive") }
        guard inflight > 0, inflight <= 65_535 else { throw ValidationError("--inflight must be 1...65535") }
        guard batch > 0 else { throw ValidationError("--batch must be positive") }
        guard drain >= 0, drain <= 600 else { throw ValidationError("--drain must be 0...600") }
    }

    var mqttQoS: MQTTQoS { MQTTQoS(rawValue: UInt8(qos))! }
}
