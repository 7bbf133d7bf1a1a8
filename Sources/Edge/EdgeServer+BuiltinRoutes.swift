import Logging
import NIOCore
import NIOHTTP1
import Prometheus

extension EdgeServer {
    /// Adds `GET /healthz`, `GET /readyz` and (with a registry) `GET /metrics` unless the router
    /// already has a route for those paths.
    static func addBuiltinRoutes(
        to router: inout Router,
        probe: ReadinessProbe,
        retryAfterSeconds: Int,
        metricsRegistry: PrometheusCollectorRegistry?,
        isDraining: @escaping @Sendable () -> Bool
    ) {
        func isFree(_ path: Substring) -> Bool {
            if case .notFound = router.match(method: .GET, path: path) { return true }
            return false
        }

        if isFree("/healthz") {
            let body = ByteBuffer(string: #"{"status":"ok"}"#)
            router.on(.GET, "/healthz", .sync { _, _ in .json(raw: body) })
        }

        if isFree("/readyz") {
            router.on(.GET, "/readyz", .async { _, context in
                let retryAfter: HTTPHeaders = ["Retry-After": String(retryAfterSeconds)]
                if isDraining() {
                    return .error(HTTPError(
                        .serviceUnavailable,
                        code: .shuttingDown,
                        message: "The server is shutting down.",
                        headers: retryAfter
                    ))
                }
                let report = await probe.run()
                let checks = JSONText.object(report.results.map { ($0.name, $0.outcome.word) })
                if report.isReady {
                    return .json(raw: #"{"status":"ready","checks":"# + checks + "}")
                }
                for result in report.results where result.outcome != .ok {
                    context.logger.warning("readiness check failed", metadata: [
                        "check": "\(result.name)",
                        "outcome": "\(result.outcome)",
                    ])
                }
                return .json(
                    raw: JSONText.errorBody(
                        code: HTTPError.Code.dependencyUnavailable.rawValue,
                        message: report.failureMessage,
                        extraMembers: #""checks":"# + checks
                    ),
                    status: .serviceUnavailable,
                    headers: retryAfter
                )
            })
        }

        if let metricsRegistry, isFree("/metrics") {
            router.on(.GET, "/metrics", .async { _, _ in
                var bytes: [UInt8] = []
                bytes.reserveCapacity(16 * 1024)
                metricsRegistry.emit(into: &bytes)
                var buffer = ByteBuffer()
                buffer.writeBytes(bytes)
                return HTTPResponse(
                    status: .ok,
                    headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"],
                    body: .buffer(buffer)
                )
            })
        }
    }
}
