import ClusterTransport
import Foundation
import NIOCore
import NIOPosix

/// One active health check of a backend: `GET /api/v5/status` on its HTTP port when it has one (success: status
/// 200; a node that is starting, draining or partitioned answers 503), else a TCP connect to its MQTT port.
enum HealthProbe {
    static let path = "/api/v5/status"
    /// The most bytes of a response read to find its status line.
    static let maximumResponseStart = 1024

    static func check(_ backend: Backend, timeout: Duration) async -> CheckResult {
        let detail: String
        let success: Bool
        do {
            if backend.httpPort > 0 {
                let code = try await withDeadline(timeout) { try await httpStatus(host: backend.host, port: backend.httpPort, timeout: timeout) }
                (success, detail) = (code == 200, "HTTP \(code)")
            } else {
                try await withDeadline(timeout) { try await tcpConnect(host: backend.host, port: backend.mqttPort, timeout: timeout) }
                (success, detail) = (true, "TCP connected")
            }
        } catch {
            (success, detail) = (false, "\(error)")
        }
        return CheckResult(success: success, detail: detail, at: Date())
    }

    /// The status code in the start of an HTTP response (`HTTP/1.1 200 OK\r\n…`); nil until the status line is
    /// complete, or when it is not one.
    static func statusCode(responseStart bytes: ByteBuffer) -> Int?? {
        guard let end = bytes.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let line = String(decoding: bytes.readableBytesView[..<end], as: UTF8.self)
        let parts = line.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[1].count == 3, let code = Int(parts[1]) else {
            return .some(nil)
        }
        return .some(code)
    }

    private static func tcpConnect(host: String, port: Int, timeout: Duration) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(timeout.timeAmount)
            .connect(host: host, port: port).get()
        try? await channel.close()
    }

    private static func httpStatus(host: String, port: Int, timeout: Duration) async throws -> Int {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(timeout.timeAmount)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            let hostHeader = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            try await outbound.write(
                ByteBuffer(string: "GET \(path) HTTP/1.1\r\nHost: \(hostHeader)\r\nConnection: close\r\n\r\n"))
            var start = ByteBuffer()
            for try await var chunk in inbound {
                start.writeBuffer(&chunk)
                if let code = statusCode(responseStart: start) {
                    guard let code else { throw HealthProbeError.notHTTP }
                    return code
                }
                guard start.readableBytes < maximumResponseStart else { throw HealthProbeError.notHTTP }
            }
            throw HealthProbeError.closedEarly
        }
    }

    /// Runs `body`, throwing `HealthProbeError.timedOut` once `timeout` has passed.
    private static func withDeadline<T: Sendable>(
        _ timeout: Duration, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw HealthProbeError.timedOut
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }
}

/// Why a health check failed, besides a connection error.
enum HealthProbeError: Error, CustomStringConvertible {
    case timedOut
    case notHTTP
    case closedEarly

    var description: String {
        switch self {
        case .timedOut: "timed out"
        case .notHTTP: "not an HTTP response"
        case .closedEarly: "closed before a status line"
        }
    }
}
