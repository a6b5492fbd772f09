import BrokerActors
import Prometheus

/// `/metrics` and `/api/v5/prometheus/stats`: this node's figures (`NodeInfo`) in the Prometheus text format,
/// formatted by swift-prometheus (a fresh registry per scrape; the counters themselves live in `BrokerMetrics`).
/// Every metric is named `starling_*` with no labels: no client ID or topic ever reaches one.
enum NodePrometheus {
    static func render(_ info: NodeInfo) -> String {
        let registry = PrometheusCollectorRegistry()
        func gauge(_ name: String, _ help: String, _ value: Double) {
            registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help)).set(value)
        }
        func counter(_ name: String, _ help: String, _ value: Int) {
            registry.makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help))
                .increment(by: Int64(value))
        }
        gauge("starling_up", "1 when the node is running (status 200), else 0.", info.state == .running ? 1 : 0)
        gauge("starling_uptime_seconds", "Seconds since the node started.", Double(info.uptimeSeconds))
        gauge("starling_weight", "The node's rendezvous-hashing weight (0 while draining).", info.weight)
        gauge("starling_connections", "Client connections on this node now.", Double(info.connections))
        gauge("starling_sessions", "Sessions this node owns now.", Double(info.sessions))
        counter("starling_connections_total", "Client connections accepted since start.", info.connectionsTotal)
        counter("starling_messages_received_total", "PUBLISH packets received from clients.", info.messagesReceived)
        counter("starling_messages_sent_total", "PUBLISH packets sent to clients.", info.messagesSent)
        counter("starling_messages_dropped_total", "Messages dropped (queue full, expired, denied).", info.messagesDropped)
        counter("starling_messages_forwarded_total", "Messages forwarded to other nodes.", info.messagesForwarded)
        return registry.emitToString()
    }
}
