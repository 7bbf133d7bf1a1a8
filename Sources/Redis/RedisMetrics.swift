import Metrics

/// The client's metric handles, created once per ``RedisClient`` (after the metrics backend
/// is bootstrapped) with fixed labels.
struct RedisMetrics: Sendable {
    /// Commands sent (a pipeline counts each command).
    let commands = Counter(label: "redis_commands_total")
    /// Commands that failed: error replies through `send`, timeouts, connection failures.
    let commandErrors = Counter(label: "redis_command_errors_total")
    /// Successful connects after a lost connection or a failed attempt.
    let reconnects = Counter(label: "redis_reconnects_total")
    /// Connections currently open (pool and pub/sub).
    let connectionsOpen = Meter(label: "redis_connections_open")
    /// Cluster mode: `MOVED` redirects followed.
    let clusterMoved = Counter(label: "redis_cluster_redirects_total", dimensions: [("kind", "moved")])
    /// Cluster mode: `ASK` redirects followed.
    let clusterAsk = Counter(label: "redis_cluster_redirects_total", dimensions: [("kind", "ask")])
    /// Cluster mode: commands retried after `TRYAGAIN`/`CLUSTERDOWN` or an unserved slot.
    let clusterRetries = Counter(label: "redis_cluster_retries_total")
    /// Cluster mode: slot map reloads (`CLUSTER SLOTS`).
    let clusterRefreshes = Counter(label: "redis_cluster_slot_map_refreshes_total")
}
