import Foundation
#if canImport(Glibc)
import Glibc
#endif
import MQTTCore
import NIOCore
import NIOPosix

/// An MQTT connection over TLS through `openssl s_client` (IntegrationTests does not link NIOSSL): the test writes
/// MQTT bytes to its standard input and decodes what arrives on its standard output. The output is read by a NIO pipe
/// channel (no FileHandle readability handler, whose dispatch source can outlive its descriptor).
final class OpenSSLClient {
    let process: Process
    private let input: FileHandle
    private let output: Inbox<[UInt8]>
    private let outputChannel: any Channel
    private var pending = ByteBuffer()
    private var decoder: MQTTPacketDecoder

    /// Connects to 127.0.0.1:`port`, verifying the server's certificate against `caFile` for the name localhost.
    static func start(port: Int, caFile: String, version: MQTTProtocolVersion = .v3_1_1) async throws -> OpenSSLClient {
        // Writing to s_client after it exited (a failed handshake) must fail with EPIPE, not kill the test process.
        signal(SIGPIPE, SIG_IGN)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = [
            "s_client", "-connect", "127.0.0.1:\(port)", "-quiet", "-nocommands", "-CAfile", caFile,
            "-verify_return_error", "-verify_hostname", "localhost", "-servername", "localhost",
        ]
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Hand the read end to NIO: a duplicate it owns, and the Foundation handle closed.
        let readFD = dup(stdout.fileHandleForReading.fileDescriptor)
        try stdout.fileHandleForReading.close()
        let output = Inbox<[UInt8]>()
        let channel = try await NIOPipeBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(OutputCollector(output: output))
                }
            }
            .takingOwnershipOfDescriptor(input: readFD).get()
        return OpenSSLClient(
            process: process, input: stdin.fileHandleForWriting, output: output, outputChannel: channel, version: version)
    }

    private init(
        process: Process, input: FileHandle, output: Inbox<[UInt8]>, outputChannel: any Channel,
        version: MQTTProtocolVersion
    ) {
        self.process = process
        self.input = input
        self.output = output
        self.outputChannel = outputChannel
        self.decoder = MQTTPacketDecoder(role: .client, version: version)
    }

    func send(bytes: [UInt8]) throws {
        try input.write(contentsOf: Data(bytes))
    }

    /// The next packet from the server; nil when s_client's output ended (the connection closed or failed).
    func nextPacket(within timeout: Duration = .seconds(10)) async throws -> MQTTPacket? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let packet = try decoder.decodeNext(&pending) { return packet }
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { throw TimedOut(what: "a packet over TLS") }
            guard let chunk = await output.next(within: remaining) else {
                if ContinuousClock.now >= deadline { throw TimedOut(what: "a packet over TLS") }
                return nil
            }
            pending.writeBytes(chunk)
        }
    }

    /// Kills s_client and waits for it to exit. SIGKILL, because a child of the test process inherits a signal mask
    /// that blocks SIGTERM. The wait polls, so that no thread of the cooperative pool is blocked.
    func stop() async {
        try? input.close()
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        try? await outputChannel.close()
    }
}

/// Forwards s_client's output to an inbox; finishes it at end of file.
private final class OutputCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let output: Inbox<[UInt8]>

    init(output: Inbox<[UInt8]>) { self.output = output }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        output.append(Array(unwrapInboundIn(data).readableBytesView))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { output.finish() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        output.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        output.finish()
        context.close(promise: nil)
    }
}

/// Runs `body` with an s_client connection and stops it afterwards, also when `body` throws.
func withOpenSSLClient<T>(
    port: Int, caFile: String, _ body: (OpenSSLClient) async throws -> T
) async throws -> T {
    let client = try await OpenSSLClient.start(port: port, caFile: caFile)
    do {
        let result = try await body(client)
        await client.stop()
        return result
    } catch {
        await client.stop()
        throw error
    }
}

/// A self-signed certificate for localhost / 127.0.0.1 and its key, made with the openssl CLI.
func makeSelfSignedCertificate(in directory: TemporaryDirectory) throws -> (certificate: String, key: String) {
    let certificate = (directory.path as NSString).appendingPathComponent("cert.pem")
    let key = (directory.path as NSString).appendingPathComponent("key.pem")
    let result = try runTool("/usr/bin/openssl", [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", key, "-out", certificate,
        "-days", "1", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ])
    guard result.status == 0 else { throw ToolFailure(tool: "openssl req", output: result.output) }
    return (certificate, key)
}
