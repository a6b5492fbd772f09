/// The names under which a broker node announces its client-facing listeners in its cluster member record
/// (`ClusterTransport.MemberService`), so that a gateway member finds them from the membership alone. Shared by
/// `Node`, which announces them, and `Gateway`, which reads them.
public enum ServiceNames {
    /// MQTT over TCP.
    public static let mqtt = "mqtt"
    /// MQTT over WebSocket (path `/mqtt`).
    public static let webSocket = "ws"
    /// MQTT over TLS.
    public static let mqtts = "mqtts"
    /// The HTTP API and dashboard (`/api/v5/status` for health checks).
    public static let http = "http"
}
