import DequeModule
import Logging

/// The PostgreSQL entry point: a bounded pool of connections, each served by its own thread.
///
/// - `acquire` waits at most `configuration.acquireTimeout`, then throws `.poolTimeout`.
/// - Connections are opened lazily. Broken ones (server restart, `pg_terminate_backend`,
///   network loss) are dropped and replaced on demand; an idle connection is checked before
///   it is handed out, so a backend killed while idle costs no failed query. A backend that
///   dies *during* a statement fails that statement (`isConnectionFailure`), never retried
///   automatically since it may have committed.
/// - When PostgreSQL is down, opening a connection fails fast with `.unavailable`
///   (SQLSTATE 08001); once it is back, new connections succeed without a restart.
public final class PostgresClient: Sendable {
    /// The configuration this pool was created with.
    public let configuration: PostgresConfiguration
    private let logger: Logger
    private let metrics: PostgresMetrics
    private let state: Locked<PoolState>

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<PostgresConnection, Error>
    }

    private struct PoolState {
        /// Idle, reusable connections (LIFO, so hot connections stay hot).
        var idle: [PostgresConnection] = []
        /// Connections that exist or are being opened (idle + leased + connecting).
        var open = 0
        var waiters = Deque<Waiter>()
        var nextWaiterID: UInt64 = 0
        var closed = false
    }

    /// Creates a pool. No connection is opened until the first `acquire`.
    public init(configuration: PostgresConfiguration, logger: Logger) {
        precondition(configuration.poolSize > 0, "poolSize must be positive")
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "pg_pool"] = "\(configuration.metricsPoolName)"
        self.logger = logger
        self.metrics = PostgresMetrics(pool: configuration.metricsPoolName)
        self.state = Locked(PoolState())
        metrics.connections.record(0)
    }

    /// Convenience: `PostgresClient(configuration: .init(url: url), logger: logger)`.
    public convenience init(url: String, logger: Logger) throws {
        self.init(configuration: try PostgresConfiguration(url: url), logger: logger)
    }

    // MARK: Queries

    /// Runs one statement on a pooled connection. Parameters are always sent out-of-band.
    public func query(_ sql: String, _ params: [PostgresValue] = []) async throws -> PostgresRows {
        try await leased(.query(sql, params))
    }

    /// Runs statements in one round trip (pipeline mode); see `PostgresConnection.pipeline`.
    public func pipeline(_ statements: [PostgresStatement]) async throws -> [PostgresRows] {
        try await leased(.pipeline(statements))
    }

    /// A whole `BEGIN ... COMMIT` transaction in one round trip; see
    /// `PostgresConnection.transactionPipeline`.
    public func transactionPipeline(
        isolation: TransactionIsolation = .readCommitted, _ statements: [PostgresStatement]
    ) async throws -> [PostgresRows] {
        try await leased(.transactionPipeline(statements, isolation: isolation))
    }

    /// A one-job lease (`PostgresConnection.pooled`): the calls above cross to the connection's
    /// thread once and back once, not three times each way. A connection found dead before
    /// anything was sent is discarded and another one tried, as `withConnection` does.
    private func leased<T: Sendable>(_ job: PostgresConnection.Job<T>) async throws -> T {
        while true {
            let (connection, unchecked) = try await acquire(checkingAlive: false)
            switch await connection.pooled(checkingAlive: unchecked, job) {
            case .stale:
                await discard(connection, "discarding dead idle postgres connection")
            case .ran(let result, let reusable):
                await giveBack(connection, reusable: reusable)
                return try result.get()
            }
        }
    }

    /// `SELECT 1` through the pool.
    public func ping() async throws {
        _ = try await query("SELECT 1")
    }

    /// Sends a notification (`SELECT pg_notify($1, $2)`) through the pool.
    public func notify(channel: String, payload: String = "") async throws {
        _ = try await query("SELECT pg_notify($1, $2)", [.string(channel), .string(payload)])
    }

    /// Lends a connection to `body` and returns it to the pool afterwards (any transaction
    /// left open is rolled back first; a broken connection is discarded).
    public func withConnection<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let (connection, _) = try await acquire(checkingAlive: true)
        let value: T
        do {
            value = try await body(connection)
        } catch {
            await release(connection)
            throw error
        }
        await release(connection)
        return value
    }

    /// Runs `body` in a transaction on one pooled connection: `BEGIN` (with `isolation`),
    /// `COMMIT` on return, `ROLLBACK` if `body` throws.
    public func withTransaction<T>(
        isolation: TransactionIsolation = .readCommitted, _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await withConnection { connection in
            try await connection.transaction(isolation: isolation, body)
        }
    }

    /// Closes idle connections, fails waiters with `.closed`, and makes further use fail.
    /// Leased connections are closed as they are returned.
    public func close() async {
        let (idle, waiters) = state.withLock { state -> ([PostgresConnection], Deque<Waiter>) in
            state.closed = true
            let idle = state.idle
            let waiters = state.waiters
            state.idle = []
            state.waiters = []
            state.open -= idle.count
            return (idle, waiters)
        }
        for waiter in waiters {
            waiter.continuation.resume(throwing: PostgresError(code: .closed, message: "PostgreSQL client is closed"))
        }
        for connection in idle { await connection.close() }
        updateGauge()
    }

    /// Number of connections currently open or opening (for tests and diagnostics).
    public var openConnections: Int { state.withLock { $0.open } }

    // MARK: Pool

    private enum AcquireStep {
        case use(PostgresConnection)
        case open
        case wait
        case fail(PostgresError)
    }

    /// A connection to lease, and whether it is `unchecked`: taken from the idle list without
    /// the liveness check (which the caller then makes). With `checkingAlive`, an idle one is
    /// checked here; new connections and ones handed over by another lease need none.
    private func acquire(checkingAlive: Bool) async throws -> (PostgresConnection, unchecked: Bool) {
        let start = ContinuousClock.now
        defer { metrics.acquireWait.recordNanoseconds(Self.nanoseconds(ContinuousClock.now - start)) }
        while true {
            let step = state.withLock { state -> AcquireStep in
                if state.closed { return .fail(PostgresError(code: .closed, message: "PostgreSQL client is closed")) }
                if let connection = state.idle.popLast() { return .use(connection) }
                if state.open < configuration.poolSize {
                    state.open += 1
                    return .open
                }
                return .wait
            }
            switch step {
            case .fail(let error):
                throw error
            case .use(let connection):
                if !checkingAlive { return (connection, true) }
                if await connection.checkAlive() { return (connection, false) }
                logger.info("discarding dead idle postgres connection", metadata: ["pg_pid": "\(connection.backendPID)"])
                await connection.close()
                state.withLock { $0.open -= 1 }
                updateGauge()
                continue
            case .open:
                updateGauge()
                do {
                    return (try await openConnection(), false)
                } catch {
                    state.withLock { $0.open -= 1 }
                    updateGauge()
                    throw error
                }
            case .wait:
                let remaining = configuration.acquireTimeout - (ContinuousClock.now - start)
                return (try await waitForConnection(timeout: remaining), false)
            }
        }
    }

    private func openConnection() async throws -> PostgresConnection {
        do {
            return try await PostgresConnection.connect(configuration: configuration, metrics: metrics, logger: logger)
        } catch {
            logger.warning("cannot open postgres connection", metadata: ["error": "\(error)"])
            throw error
        }
    }

    private func waitForConnection(timeout: Duration) async throws -> PostgresConnection {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: max(timeout, .zero))
            guard !Task.isCancelled, let self else { return }
            self.failWaiter(id, PostgresError(
                code: .poolTimeout,
                message: "timed out after \(self.configuration.acquireTimeout) waiting for one of \(self.configuration.poolSize) PostgreSQL connections"))
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<PostgresConnection, Error>) in
                let closed = state.withLock { state -> Bool in
                    if state.closed { return true }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return false
                }
                if closed {
                    continuation.resume(throwing: PostgresError(code: .closed, message: "PostgreSQL client is closed"))
                } else if Task.isCancelled {
                    failWaiter(id, CancellationError())
                }
            }
        } onCancel: {
            self.failWaiter(id, CancellationError())
        }
    }

    /// Removes waiter `id` if still queued and fails it.
    private func failWaiter(_ id: UInt64, _ error: Error) {
        let waiter = state.withLock { state -> Waiter? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        waiter?.continuation.resume(throwing: error)
    }

    private func release(_ connection: PostgresConnection) async {
        await giveBack(connection, reusable: await connection.resetForReuse())
    }

    /// Back to the pool after a lease, or closed and replaced when it can no longer be used.
    private func giveBack(_ connection: PostgresConnection, reusable: Bool) async {
        if reusable {
            handOver(connection)
        } else {
            await discard(connection, "discarding broken postgres connection")
        }
    }

    private func discard(_ connection: PostgresConnection, _ message: Logger.Message) async {
        logger.info(message, metadata: ["pg_pid": "\(connection.backendPID)"])
        await connection.close()
        connectionLost()
    }

    /// Gives a healthy connection to the longest waiter, or parks it as idle.
    private func handOver(_ connection: PostgresConnection) {
        enum Outcome { case given(Waiter), parked, closeIt }
        let outcome = state.withLock { state -> Outcome in
            if state.closed {
                state.open -= 1
                return .closeIt
            }
            if let waiter = state.waiters.popFirst() { return .given(waiter) }
            state.idle.append(connection)
            return .parked
        }
        switch outcome {
        case .given(let waiter): waiter.continuation.resume(returning: connection)
        case .parked: break
        case .closeIt:
            Task { await connection.close() }
            updateGauge()
        }
    }

    /// A connection was discarded: if someone is waiting, open a replacement for them.
    private func connectionLost() {
        let replace = state.withLock { state -> Bool in
            state.open -= 1
            if !state.closed, !state.waiters.isEmpty, state.open < configuration.poolSize {
                state.open += 1
                return true
            }
            return false
        }
        updateGauge()
        guard replace else { return }
        Task {
            do {
                let connection = try await self.openConnection()
                self.handOver(connection)
            } catch {
                let waiter = self.state.withLock { state -> Waiter? in
                    state.open -= 1
                    return state.waiters.popFirst()
                }
                self.updateGauge()
                waiter?.continuation.resume(throwing: error)
            }
        }
    }

    private func updateGauge() {
        metrics.connections.record(state.withLock { $0.open })
    }

    private static func nanoseconds(_ d: Duration) -> Int64 {
        let c = d.components
        return c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000
    }
}
