import Foundation

/// `/stats?format=json`: the snapshot as a JSON object (sorted keys, ISO-8601 dates), with an `affinity` key holding
/// the `AffinityReport` when a client was asked about. Decoding the body as a `GatewayStatsSnapshot` gives the
/// snapshot back.
enum StatsJSONRenderer {
    static func render(_ snapshot: GatewayStatsSnapshot, affinity: AffinityReport? = nil) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        // Weights and scores are finite by construction; should one not be, say so rather than fail the page.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "+Inf", negativeInfinity: "-Inf", nan: "NaN")
        do {
            let data = try encoder.encode(Document(snapshot: snapshot, affinity: affinity))
            return String(decoding: data, as: UTF8.self) + "\n"
        } catch {
            return #"{"error":"the stats could not be encoded"}"# + "\n"
        }
    }

    /// The decoder that reads `render`'s output back (ISO-8601 dates).
    static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    /// The snapshot's own keys, plus `affinity`.
    private struct Document: Encodable {
        var snapshot: GatewayStatsSnapshot
        var affinity: AffinityReport?

        enum CodingKeys: String, CodingKey {
            case affinity
        }

        func encode(to encoder: any Encoder) throws {
            try snapshot.encode(to: encoder)
            guard let affinity else { return }
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(affinity, forKey: .affinity)
        }
    }
}
