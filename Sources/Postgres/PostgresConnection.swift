import Logging

/// One PostgreSQL session, served by its own dedicated thread.
///
/// Obtained from `PostgresClient.withConnection`/`withTransaction`; do not keep it beyond the
/// closure. Calls on one connection run one at a time in submission order.
public final class PostgresConnection: Sendable {
    private let thread: ConnectionThread
    /// Confined to `thread`: only touched inside jobs submitted to it.
    private let handle: LibPQConnection
    private let metrics: PostgresMetrics
    private let logger: Logger
    /// The server process id of this session (`pg_backend_pid()`).
    public let backendPID: Int32

    private init(thread: ConnectionThread, handle: LibPQConnection, metrics: PostgresMetrics, logger: Logger) {
        self.thread = thread
        self.handle = handle
        self.metrics = metrics
        self.backendPID = handle.backendPID
        var logger = logger
        logger[metadataKey: "pg_pid"] = "\(handle.backendPID)"
        self.logger = logger
    }

    deinit {
        // Dropped without `close()` (e.g. a pool released without closing): end the thread;
        // the libpq handle is finished when its last reference goes away.
        thread.stop()
    }

    /// Opens a session on a new dedicated thread.
    static func connect(
        configuration: PostgresConfiguration, metrics: PostgresMetrics, logger: Logger
    ) async throws -> PostgresConnection {
        // "pg-" and the pool's name, as much of it as a thread name holds (15 bytes).
        let thread = ConnectionThread(name: "pg-\(configuration.metricsPoolName)")
        do {
            let handle = try await thread.run { try LibPQConnection.connect(configuration) }
            let connection = PostgresConnection(thread: thread, handle: handle, metrics: metrics, logger: logger)
            connection.logger.debug("postgres connection opened", metadata: ["pg_target": "\(configuration)"])
            return connection
        } catch {
            thread.stop()
            throw error
        }
    }

    /// Runs one statement. Parameters are sent separately from the SQL (`PQexecParams`),
    /// so they are never interpreted as SQL.
    public func query(_ sql: String, _ params: [PostgresValue] = []) async throws -> PostgresRows {
        try await measured(.query(sql, params))
    }

    /// Runs several statements in one round trip using libpq pipeline mode. The statements
    /// form one implicit transaction (unless already inside `withTransaction`): if one fails,
    /// the earlier ones are rolled back, the rest skipped, and the error's `statementIndex`
    /// names the failing one.
    public func pipeline(_ statements: [PostgresStatement]) async throws -> [PostgresRows] {
        try await measured(.pipeline(statements))
    }

    /// `BEGIN; statements...; COMMIT` sent as one pipeline: one round trip for the whole
    /// transaction. If any statement fails, everything is rolled back and its error is thrown
    /// with `sqlState` and `statementIndex` (`statements.count` means the COMMIT failed).
    /// The connection stays usable. Must not be called inside another transaction.
    public func transactionPipeline(
        isolation: TransactionIsolation = .readCommitted, _ statements: [PostgresStatement]
    ) async throws -> [PostgresRows] {
        try await measured(.transactionPipeline(statements, isolation: isolation))
    }

    /// Runs a trusted, parameterless SQL script that may hold several statements (`PQexec`,
    /// simple query protocol). Meant for migration bodies only — never put user data in it.
    public func executeScript(_ sql: String) async throws {
        _ = try await measured(Job(count: 1) { handle in try handle.executeScript(sql) })
    }

    /// Runs `body` inside `BEGIN ... COMMIT`; rolls back if `body` throws (and rethrows).
    public func transaction<T>(
        isolation: TransactionIsolation = .readCommitted, _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        _ = try await query(isolation.beginStatement)
        let value: T
        do {
            value = try await body(self)
        } catch {
            do {
                _ = try await query("ROLLBACK")
            } catch let rollbackError {
                logger.warning("rollback failed", metadata: ["error": "\(rollbackError)"])
            }
            throw error
        }
        _ = try await query("COMMIT")
        return value
    }

    /// One call on the connection's thread, and how many statements it runs (for the metrics):
    /// the same call whether the connection runs it (``measured(_:)``) or the pool leases the
    /// connection for it (``pooled(checkingAlive:_:)``).
    struct Job<T: Sendable>: Sendable {
        var count: Int
        var body: @Sendable (LibPQConnection) throws -> T

        static func query(_ sql: String, _ params: [PostgresValue]) -> Job<PostgresRows> {
            Job<PostgresRows>(count: 1) { handle in try handle.query(sql, params) }
        }

        static func pipeline(_ statements: [PostgresStatement]) -> Job<[PostgresRows]> {
            Job<[PostgresRows]>(count: statements.count) { handle in try handle.pipeline(statements) }
        }

        static func transactionPipeline(_ statements: [PostgresStatement], isolation: TransactionIsolation) -> Job<[PostgresRows]> {
            Job<[PostgresRows]>(count: statements.count + 2) { handle in try handle.transactionPipeline(statements, isolation: isolation) }
        }
    }

    // MARK: Pool support

    /// What a pooled one-job call did: `stale` when the connection was found dead before
    /// anything was sent (the pool discards it and tries another); otherwise the outcome, and
    /// whether the connection can go back to the pool.
    enum PooledOutcome<T: Sendable>: Sendable {
        case stale
        case ran(Result<T, any Error>, reusable: Bool)
    }

    /// The pool's whole lease in one job on the connection's thread: the liveness check of an
    /// idle connection (`checkingAlive`), `body`, and the reset for reuse. One hand-over to the
    /// thread and one back, where `checkAlive`, the statement and `resetForReuse` as separate
    /// jobs would take three of each.
    func pooled<T: Sendable>(checkingAlive: Bool, _ job: Job<T>) async -> PooledOutcome<T> {
        let outcome: PooledOutcome<T>
        do {
            outcome = try await thread.run { [handle, metrics] () -> PooledOutcome<T> in
                if checkingAlive, !handle.checkAlive() { return .stale }
                metrics.queries.increment(by: Int64(job.count))
                let result = Result<T, any Error> { try job.body(handle) }
                return .ran(result, reusable: handle.resetForReuse())
            }
        } catch {
            // The thread is stopping: nothing was sent.
            return .stale
        }
        if case .ran(.failure(let error as PostgresError), _) = outcome { recordFailure(error) }
        return outcome
    }

    /// Liveness check before handing an idle connection out (no round trip).
    func checkAlive() async -> Bool {
        (try? await thread.run { [handle] in handle.checkAlive() }) ?? false
    }

    /// Rolls back anything left open; false if the connection must be discarded.
    func resetForReuse() async -> Bool {
        (try? await thread.run { [handle] in handle.resetForReuse() }) ?? false
    }

    /// Closes the session and ends its thread.
    func close() async {
        _ = try? await thread.run { [handle] in handle.close() }
        thread.stop()
        logger.debug("postgres connection closed")
    }

    private func measured<T: Sendable>(_ job: Job<T>) async throws -> T {
        metrics.queries.increment(by: Int64(job.count))
        do {
            return try await thread.run { [handle] in try job.body(handle) }
        } catch let error as PostgresError {
            recordFailure(error)
            throw error
        }
    }

    private func recordFailure(_ error: PostgresError) {
        metrics.queryErrors.increment()
        if error.isConnectionFailure {
            logger.warning("postgres connection failed", metadata: ["error": "\(error)"])
        } else {
            logger.debug("postgres statement failed", metadata: ["error": "\(error)"])
        }
    }
}
