import Logging
import Metrics
import Postgres
import ServiceLifecycle

/// Expires holds whose time has passed (by the database clock) every `sweepInterval`, giving
/// their tickets back in one update per class, and drops idempotency keys past their retention.
/// Every worker process runs one; `inventory_expire` re-checks each hold under the class locks,
/// so concurrent sweepers only share the work. Each round it also analyzes the tables that grew
/// well past the size the planner last saw (`PlannerStatistics`: cached plans made for an empty
/// table would otherwise scan it whole until autovacuum's next visit). A database that is down is
/// retried next round.
public struct HoldSweeper: Service {
    private let database: PostgresClient
    private let configuration: ReservationConfiguration
    private let logger: Logger
    private let expired = Counter(label: "inventory_holds_expired_total")
    private let isReady: @Sendable () -> Bool
    private let statistics: PlannerStatistics
    private let analyzed = Counter(label: "postgres_tables_analyzed_total")

    /// `isReady` holds the sweeps back until it answers true (e.g. until the schema is migrated).
    public init(database: PostgresClient, configuration: ReservationConfiguration, logger: Logger,
                isReady: @escaping @Sendable () -> Bool = { true }) {
        self.database = database
        self.configuration = configuration
        self.logger = logger
        self.isReady = isReady
        self.statistics = PlannerStatistics(database: database)
    }

    public func run() async throws {
        var rounds = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            guard isReady() else {
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
            do {
                let n = try await sweepOnce()
                if n > 0 { logger.debug("holds expired", metadata: ["count": "\(n)"]) }
                rounds += 1
                if rounds % 30 == 0 { try await dropOldKeys() }
                let tables = try await statistics.refresh()
                if !tables.isEmpty {
                    analyzed.increment(by: tables.count)
                    logger.info("analyzed grown tables so that plans follow their size", metadata: ["tables": "\(tables.joined(separator: ","))"])
                }
            } catch {
                logger.warning("hold sweep failed; retrying next round", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: configuration.sweepInterval)
        }
    }

    /// One sweep over every event with expired holds; returns how many holds it expired.
    @discardableResult
    public func sweepOnce() async throws -> Int {
        let events = try await database.query(
            "SELECT DISTINCT event_id FROM reservations WHERE status = 'held' AND expires_at <= now()"
        ).map { try $0.decode(String.self, at: 0) }
        var total = 0
        for event in events {
            while true {
                let rows = try await database.transactionPipeline([
                    PostgresStatement("SELECT inventory_expire($1, $2::integer)", [.string(event), .int(Int64(configuration.sweepBatchSize))]),
                ])
                let n = try rows.first?.first?.decode(Int.self, at: 0) ?? 0
                total += n
                expired.increment(by: n)
                if n < configuration.sweepBatchSize { break }
            }
        }
        return total
    }

    private func dropOldKeys() async throws {
        let seconds = configuration.idempotencyRetention.components.seconds
        _ = try await database.query("""
            DELETE FROM idempotency_keys WHERE ctid IN (
                SELECT ctid FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1) LIMIT 10000)
            """, [.int(seconds)])
    }
}
