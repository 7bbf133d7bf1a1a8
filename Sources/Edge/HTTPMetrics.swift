import CoreMetrics
import Metrics
import NIOHTTP1
import Synchronization

/// The edge's HTTP metrics; every handle is created once, up front, with fixed labels.
///
/// - `http_requests_total{method,route,status}` (status class `2xx`...)
/// - `http_request_duration_seconds{method,route}` (a swift-metrics `Timer`)
/// - `http_connections_open` (a `Meter`)
/// - `http_errors_total{code}` (handles cached per error code on first use)
/// - `http_connection_handoffs_total{result}`: connections handed to another worker (`sent`),
///   hand-offs that did not happen (`failed`: served here), connections received (`adopted`)
///
/// `route` is the route pattern; requests that match no route use `unmatched`.
final class HTTPMetrics: Sendable {
    /// Index of the pseudo-route for requests that match no route.
    let unmatchedRoute: Int

    private let requests: [[Counter]]
    private let durations: [CoreMetrics.Timer]
    let connectionsOpen: Meter
    enum HandOff: Int, CaseIterable {
        case sent, failed, adopted
    }
    /// Indexed by `HandOff`.
    let handOffs: [Counter]
    private let errorCounters: Mutex<[String: Counter]>
    private let factory: any MetricsFactory

    init(routes: [(method: HTTPMethod, pattern: String)], factory: any MetricsFactory) {
        self.factory = factory
        var labels = routes.map { ($0.method.rawValue, $0.pattern) }
        labels.append(("any", "unmatched"))
        self.unmatchedRoute = labels.count - 1
        self.requests = labels.map { method, pattern in
            ["1xx", "2xx", "3xx", "4xx", "5xx"].map { status in
                Counter(
                    label: "http_requests_total",
                    dimensions: [("method", method), ("route", pattern), ("status", status)],
                    factory: factory
                )
            }
        }
        self.durations = labels.map { method, pattern in
            CoreMetrics.Timer(
                label: "http_request_duration_seconds",
                dimensions: [("method", method), ("route", pattern)],
                factory: factory
            )
        }
        self.connectionsOpen = Meter(label: "http_connections_open", dimensions: [], factory: factory)
        self.handOffs = HandOff.allCases.map { result in
            Counter(label: "http_connection_handoffs_total", dimensions: [("result", "\(result)")], factory: factory)
        }
        self.errorCounters = Mutex([:])
    }

    /// Records one answered request.
    func recordRequest(route: Int, status: HTTPResponseStatus, durationNanoseconds: Int64) {
        let statusClass = min(max(Int(status.code) / 100, 1), 5) - 1
        self.requests[route][statusClass].increment()
        self.durations[route].recordNanoseconds(durationNanoseconds)
    }

    /// Counts one error answer by its code.
    func recordError(code: HTTPError.Code) {
        let counter = self.errorCounters.withLock { counters in
            if let counter = counters[code.rawValue] { return counter }
            let counter = Counter(label: "http_errors_total", dimensions: [("code", code.rawValue)], factory: self.factory)
            counters[code.rawValue] = counter
            return counter
        }
        counter.increment()
    }
}
