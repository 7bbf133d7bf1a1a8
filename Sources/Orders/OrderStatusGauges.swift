import Logging
import Metrics
import Postgres
import ServiceLifecycle

/// Publishes how many orders are in each saga state, across all events, as the gauge
/// `orders_status{status}` (plus `orders_status{status="needs_attention"}`), read from
/// PostgreSQL every `interval`. Every saga process reports the same totals, so dashboards take
/// the `max` over instances.
public struct OrderStatusGauges: Service {
    /// The saga states of `orders.status`, and the flag that parks an order for a person.
    public static let states = ["pending", "awaiting_payment", "paid", "completed", "cancelled", "refunded", "needs_attention"]

    private let database: PostgresClient
    private let logger: Logger
    private let interval: Duration
    private let isReady: @Sendable () -> Bool
    private let gauges: [String: Gauge]

    public init(database: PostgresClient, logger: Logger, interval: Duration = .seconds(5),
                isReady: @escaping @Sendable () -> Bool = { true }) {
        self.database = database
        self.logger = logger
        self.interval = interval
        self.isReady = isReady
        self.gauges = Dictionary(uniqueKeysWithValues: Self.states.map {
            ($0, Gauge(label: "orders_status", dimensions: [("status", $0)]))
        })
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            if isReady() {
                do { _ = try await sampleOnce() } catch {
                    logger.debug("order status sample failed", metadata: ["error": "\(error)"])
                }
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Reads the counts once and sets the gauges; answers them by state.
    @discardableResult
    public func sampleOnce() async throws -> [String: Int] {
        let rows = try await database.query("""
            SELECT status, count(*) FROM orders GROUP BY status
            UNION ALL SELECT 'needs_attention', count(*) FROM orders WHERE needs_attention
            """)
        var counts = Dictionary(uniqueKeysWithValues: Self.states.map { ($0, 0) })
        for row in rows {
            counts[try row.decode(String.self, at: 0)] = try row.decode(Int.self, at: 1)
        }
        for (state, gauge) in gauges { gauge.record(counts[state] ?? 0) }
        return counts
    }
}
