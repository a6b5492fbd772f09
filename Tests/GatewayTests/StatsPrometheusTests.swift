import ClusterTransport
import Foundation
import Testing

@testable import Gateway

/// The Prometheus text output, read back by a small parser of the exposition format.
@Suite("stats Prometheus output")
struct StatsPrometheusTests {
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    struct Exposition {
        var types: [String: String] = [:]
        var helps: [String: String] = [:]
        var samples: [Sample] = []

        func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
            samples.first { $0.name == name && $0.labels == labels }?.value
        }
    }

    enum ParseError: Error, CustomStringConvertible {
        case line(Int, String)
        var description: String {
            switch self { case .line(let number, let why): "line \(number): \(why)" }
        }
    }

    /// Parses every line; throws on the first that is not a HELP, a TYPE (once per name, before its samples) or
    /// a sample `name{label="value",...} number` with the format's escapes in label values.
    static func parse(_ text: String) throws -> Exposition {
        var result = Exposition()
        #expect(text.hasSuffix("\n"))
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
            let number = index + 1
            if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ")
                guard parts.count == 2, ["counter", "gauge"].contains(parts[1]) else { throw ParseError.line(number, "TYPE") }
                guard result.types.updateValue(String(parts[1]), forKey: String(parts[0])) == nil else {
                    throw ParseError.line(number, "second TYPE for \(parts[0])")
                }
            } else if line.hasPrefix("# HELP ") {
                let rest = line.dropFirst(7)
                guard let space = rest.firstIndex(of: " ") else { throw ParseError.line(number, "HELP") }
                result.helps[String(rest[..<space])] = String(rest[rest.index(after: space)...])
            } else {
                let sample = try parseSample(Substring(line), number: number)
                guard result.types[sample.name] != nil else { throw ParseError.line(number, "sample before its TYPE") }
                result.samples.append(sample)
            }
        }
        return result
    }

    static func parseSample(_ line: Substring, number: Int) throws -> Sample {
        var rest = line
        let name = String(rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" })
        guard !name.isEmpty, !name.first!.isNumber else { throw ParseError.line(number, "metric name") }
        rest = rest.dropFirst(name.count)
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                let label = String(rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" })
                rest = rest.dropFirst(label.count)
                guard !label.isEmpty, rest.hasPrefix("=\"") else { throw ParseError.line(number, "label") }
                rest = rest.dropFirst(2)
                var value = ""
                while let character = rest.first, character != "\"" {
                    rest = rest.dropFirst()
                    guard character == "\\" else {
                        value.append(character)
                        continue
                    }
                    switch rest.first {
                    case "\\": value.append("\\")
                    case "\"": value.append("\"")
                    case "n": value.append("\n")
                    default: throw ParseError.line(number, "escape")
                    }
                    rest = rest.dropFirst()
                }
                guard rest.first == "\"" else { throw ParseError.line(number, "unterminated label value") }
                rest = rest.dropFirst()
                labels[label] = value
                if rest.first == "," { rest = rest.dropFirst() }
            }
            rest = rest.dropFirst()
        }
        guard rest.first == " ", let value = Double(rest.dropFirst()) else { throw ParseError.line(number, "value") }
        return Sample(name: name, labels: labels, value: value)
    }

    @Test("every line parses; the figures are there under starling_gateway_*, labelled by backend only")
    func parses() throws {
        let snapshot = StatsFixtures.snapshot
        let exposition = try Self.parse(StatsPrometheusRenderer.render(snapshot))
        #expect(exposition.samples.allSatisfy { $0.name.hasPrefix("starling_gateway_") })
        #expect(exposition.types.keys.allSatisfy { $0.hasPrefix("starling_gateway_") })
        for (name, type) in exposition.types {
            #expect(type == (name.hasSuffix("_total") ? "counter" : "gauge"), "\(name)")
            #expect(exposition.helps[name] != nil, "\(name) has HELP")
        }
        for sample in exposition.samples where sample.name.hasPrefix("starling_gateway_backend_") {
            #expect(Array(sample.labels.keys) == ["backend"], "\(sample.name)")
        }
        #expect(exposition.value("starling_gateway_connections") == 30)
        #expect(exposition.value("starling_gateway_connections_total") == 9_001)
        #expect(exposition.value("starling_gateway_bytes_in_total") == 123_456)
        #expect(exposition.value("starling_gateway_bytes_out_total") == 654_321)
        #expect(exposition.value("starling_gateway_cluster_mode") == 1)
        #expect(exposition.value("starling_gateway_start_time_seconds") == 1_800_000_000)
        let rejected = "starling_gateway_rejected_connections_total"
        #expect(exposition.value(rejected, ["reason": "bad-first-packet"]) == 3)
        #expect(exposition.value(rejected, ["reason": "no-backend"]) == 1)
        #expect(exposition.value(rejected, ["reason": "rate-limited"]) == 0)
        let n1 = ["backend": "n1@10.0.0.1"], n2 = ["backend": "n2@10.0.0.2"], n3 = ["backend": "n3@10.0.0.3"]
        #expect(exposition.value("starling_gateway_backend_up", n1) == 1)
        #expect(exposition.value("starling_gateway_backend_up", n2) == 0)
        #expect(exposition.value("starling_gateway_backend_up", n3) == 0)
        #expect(exposition.value("starling_gateway_backend_weight", n1) == 5)
        #expect(exposition.value("starling_gateway_backend_connections", n2) == 12)
        #expect(exposition.value("starling_gateway_backend_connections_total", n2) == 3_400)
        #expect(exposition.value("starling_gateway_backend_bytes_out_total", n3) == 5_242_880)
        #expect(exposition.value("starling_gateway_backend_check_success", n1) == 1)
        #expect(exposition.value("starling_gateway_backend_check_success", n2) == 0)
        #expect(exposition.value("starling_gateway_backend_check_success", n3) == nil)  // never checked
        #expect(exposition.value("starling_gateway_backend_last_change_timestamp_seconds", n1)
                == StatsFixtures.now.timeIntervalSince1970 - 42)
    }

    @Test("label values are escaped: quote, backslash and line feed survive the round trip")
    func labelEscaping() throws {
        var snapshot = StatsFixtures.snapshot
        let odd = "odd \"reason\" \\ with\nnewline"
        snapshot.rejectedConnections = [odd: 9]
        let text = StatsPrometheusRenderer.render(snapshot)
        #expect(text.contains(#"reason="odd \"reason\" \\ with\nnewline""#))
        let exposition = try Self.parse(text)
        #expect(exposition.value("starling_gateway_rejected_connections_total", ["reason": odd]) == 9)
    }

    @Test("a static gateway with no backends still renders a valid exposition")
    func empty() throws {
        var snapshot = StatsFixtures.snapshot
        snapshot.mode = .static
        snapshot.backends = []
        snapshot.rejectedConnections = [:]
        let exposition = try Self.parse(StatsPrometheusRenderer.render(snapshot))
        #expect(exposition.value("starling_gateway_cluster_mode") == 0)
        #expect(!exposition.samples.contains { $0.name.hasPrefix("starling_gateway_backend_") })
        #expect(exposition.samples.filter { $0.name == "starling_gateway_rejected_connections_total" }.count
                == StatsPrometheusRenderer.knownRejectReasons.count)
    }
}
