import Prometheus

/// The server's Prometheus metrics, served at `GET /metrics`.
///
/// | metric | type | labels |
/// | --- | --- | --- |
/// | `quiver_http_requests_total` | counter | `method`, `route` (the path template), `status` |
/// | `quiver_http_request_duration_seconds` | histogram | `method`, `route`, `status` |
/// | `quiver_http_request_body_bytes_total`, `quiver_http_response_body_bytes_total` | counter | `route` |
/// | `quiver_merge_duration_seconds` | histogram | `mode` (`sync`, `job`) |
/// | `quiver_executor_wait_seconds` | histogram | — |
/// | `quiver_executor_waiting` | gauge | — |
/// | `quiver_executor_rejected_total` | counter | — |
/// | `quiver_hook_attempts_total` | counter | `event`, `outcome` (`delivered`, `retry`, `failed`) |
/// | `quiver_hook_attempt_duration_seconds` | histogram | `event` |
///
/// Routes are labelled by their template (`/v1/versions/{ref}`), never by the raw path, so the label set stays
/// bounded whatever clients send; an unmatched path is labelled `unmatched`.
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let waitHistogram: DurationHistogram
    private let waitingGauge: Gauge
    private let rejectedCounter: Counter

    static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
        .seconds(30), .seconds(60),
    ]
    static let mergeBuckets: [Duration] = [
        .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(15), .seconds(60), .seconds(300), .seconds(900),
    ]

    public init() {
        waitHistogram = registry.makeDurationHistogram(
            descriptor: Self.name("executor", "wait", "seconds", "Time a request waited for a blocking-executor thread."),
            labels: [], buckets: Self.latencyBuckets)
        waitingGauge = registry.makeGauge(
            descriptor: Self.name("executor", "waiting", "", "Requests waiting for a blocking-executor thread now."), labels: [])
        rejectedCounter = registry.makeCounter(
            descriptor: Self.name("executor", "rejected", "total", "Requests refused with 503 because the executor queue was full."), labels: [])
    }

    private static func name(_ subsystem: String, _ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "quiver", subsystem: subsystem, metricName: metric, unitName: unit, helpText: help)
    }

    /// One finished request.
    func request(method: String, route: String, status: Int, duration: Duration, bytesIn: Int64, bytesOut: Int64) {
        let labels = [("method", method), ("route", route), ("status", String(status))]
        registry.makeCounter(descriptor: Self.name("http", "requests", "total", "HTTP requests by method, route template and status."), labels: labels)
            .increment()
        registry.makeDurationHistogram(
            descriptor: Self.name("http", "request_duration", "seconds", "HTTP request latency by method, route template and status."),
            labels: labels, buckets: Self.latencyBuckets
        ).record(duration)
        if bytesIn > 0 {
            registry.makeCounter(descriptor: Self.name("http", "request_body_bytes", "total", "Request body bytes received, by route."),
                                 labels: [("route", route)]).increment(by: bytesIn)
        }
        if bytesOut > 0 {
            registry.makeCounter(descriptor: Self.name("http", "response_body_bytes", "total", "Response body bytes sent, by route."),
                                 labels: [("route", route)]).increment(by: bytesOut)
        }
    }

    /// One merge run by the server: within a request (`sync`) or by a job worker (`job`).
    func merge(mode: String, duration: Duration) {
        registry.makeDurationHistogram(
            descriptor: Self.name("merge", "duration", "seconds", "Merge durations, within a request or by a job worker."),
            labels: [("mode", mode)], buckets: Self.mergeBuckets
        ).record(duration)
    }

    /// One webhook delivery attempt and what followed it.
    func hookAttempt(event: String, outcome: String, duration: Duration) {
        registry.makeCounter(descriptor: Self.name("hook", "attempts", "total", "Webhook delivery attempts by event and outcome."),
                             labels: [("event", event), ("outcome", outcome)]).increment()
        registry.makeDurationHistogram(
            descriptor: Self.name("hook", "attempt_duration", "seconds", "Webhook delivery attempt durations by event."),
            labels: [("event", event)], buckets: Self.latencyBuckets
        ).record(duration)
    }

    func executorWait(_ duration: Duration) { waitHistogram.record(duration) }
    func executorWaiting(_ count: Int) { waitingGauge.set(Double(count)) }
    func executorRejected() { rejectedCounter.increment() }

    /// The metrics in Prometheus text format.
    public func exposition() -> String { registry.emitToString() }
}
