import Metrics

/// The client's metric handles, created once per client (dimension `pool`).
struct PostgresMetrics: Sendable {
    let queries: Counter
    let queryErrors: Counter
    let acquireWait: Metrics.Timer
    let connections: Gauge

    init(pool: String) {
        let dimensions = [("pool", pool)]
        queries = Counter(label: "pg_queries_total", dimensions: dimensions)
        queryErrors = Counter(label: "pg_query_errors_total", dimensions: dimensions)
        acquireWait = Metrics.Timer(label: "pg_pool_acquire_wait_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds)
        connections = Gauge(label: "pg_pool_connections", dimensions: dimensions)
    }
}
