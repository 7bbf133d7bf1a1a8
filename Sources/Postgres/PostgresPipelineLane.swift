import DequeModule
import Foundation
import Logging
import Synchronization
import ThreadSupport
#if canImport(Glibc)
import Glibc
#endif

/// One PostgreSQL session in pipeline mode on a thread of its own, carrying short transactions
/// back to back: a transaction is sent while the ones before it still run, each as its own
/// segment (statements, then a Sync: an implicit transaction, committed at the Sync, rolled back
/// there if a statement failed), and their results come back in order. The server never waits
/// for the client between two of them.
///
/// For the inventory combiner: with one batch in flight, the backend ran about a third of the
/// time and waited for the next batch (the reply's way back to the batcher and the next batch's
/// way out) the rest.
///
/// A broken session fails the transactions in flight (their outcome unknown, as with any lost
/// connection) and the next one connects again.
public final class PostgresPipelineLane: @unchecked Sendable {
    /// The outcome of an enqueued transaction, to be awaited.
    public final class Pending: Sendable {
        private enum State {
            case waiting(CheckedContinuation<[PostgresRows], any Error>?)
            case done(Result<[PostgresRows], any Error>)
        }

        private let state = Mutex<State>(.waiting(nil))

        /// The transaction's rows (one `PostgresRows` per statement), or its error.
        public var value: [PostgresRows] {
            get async throws {
                try await withCheckedThrowingContinuation { continuation in
                    let result = state.withLock { state -> Result<[PostgresRows], any Error>? in
                        switch state {
                        case .done(let result): return result
                        case .waiting: state = .waiting(continuation); return nil
                        }
                    }
                    if let result { continuation.resume(with: result) }
                }
            }
        }

        func complete(_ result: Result<[PostgresRows], any Error>) {
            let waiting = state.withLock { state -> CheckedContinuation<[PostgresRows], any Error>? in
                guard case .waiting(let continuation) = state else { return nil }
                state = .done(result)
                return continuation
            }
            waiting?.resume(with: result)
        }
    }

    private struct Submission {
        var statements: [PostgresStatement]
        var pending: Pending
    }

    private struct InFlight {
        var pending: Pending
        var results: [PostgresRows]
        var current: PostgresRows?
        var firstError: PostgresError?
    }

    private let configuration: PostgresConfiguration
    /// Statements prepared on every session of the lane, by SQL: their names.
    private let prepared: [String: String]
    private let logger: Logger
    private let metrics: PostgresMetrics
    /// After a failed connect, transactions fail at once for this long (no connect per batch
    /// while the server is down); the first one after it tries again.
    static let reconnectBackoff = Duration.milliseconds(250)
    // `pending`, `stopping` and `finished` are guarded by `lock` (the wake pipe is written and
    // closed under it, so a late wake never writes to a reused descriptor); the rest belongs to
    // the lane's thread.
    private let lock = NSLock()
    private var pending: [Submission] = []
    private var stopping = false
    private var finished = false
    private let wakePipe = WakePipe()

    /// A lane whose sessions prepare `prepared` when they connect: a transaction's statement
    /// with one of these SQL texts then runs prepared (the server neither parses nor plans it).
    public init(configuration: PostgresConfiguration, logger: Logger, prepared: [String] = []) {
        self.configuration = configuration
        self.prepared = Dictionary(prepared.enumerated().map { ($1, "lane_\($0)") }, uniquingKeysWith: { first, _ in first })
        var logger = logger
        logger[metadataKey: "pg_pool"] = "\(configuration.metricsPoolName)"
        self.logger = logger
        self.metrics = PostgresMetrics(pool: configuration.metricsPoolName)
        let thread = Thread { [self] in
            ThreadName.set("pg-lane")
            self.run()
        }
        thread.stackSize = 512 * 1024
        thread.start()
    }

    /// Runs `statements` as one implicit transaction behind the ones already sent; returns one
    /// `PostgresRows` per statement, or throws the first statement's error (all of it rolled back).
    public func transaction(_ statements: [PostgresStatement]) async throws -> [PostgresRows] {
        try await enqueue(statements).value
    }

    /// Queues `statements` as one transaction now (transactions go out and commit in the order
    /// they were enqueued) and returns its outcome to await later.
    public func enqueue(_ statements: [PostgresStatement]) -> Pending {
        let result = Pending()
        lock.lock()
        if stopping {
            lock.unlock()
            result.complete(.failure(PostgresError(code: .closed, message: "pipeline lane is closed")))
            return result
        }
        pending.append(Submission(statements: statements, pending: result))
        if pending.count == 1 { wakePipe.wake() }
        lock.unlock()
        return result
    }

    /// Ends the lane once what was submitted has its outcome.
    public func close() {
        lock.lock()
        stopping = true
        if !finished { wakePipe.wake() }
        lock.unlock()
    }

    private func takePending() -> (submissions: [Submission], stopping: Bool) {
        lock.lock()
        defer { lock.unlock() }
        let taken = pending
        pending.removeAll(keepingCapacity: true)
        return (taken, stopping)
    }

    private func run() {
        var connection: LibPQConnection?
        var inFlight = Deque<InFlight>()
        var flushed = true
        var connectFailure: (at: ContinuousClock.Instant, error: any Error)?

        func fail(_ error: any Error) {
            if !inFlight.isEmpty {
                logger.warning("pipeline lane connection failed", metadata: ["error": "\(error)", "pg_in_flight": "\(inFlight.count)"])
            }
            while let entry = inFlight.popFirst() {
                metrics.queryErrors.increment()
                entry.pending.complete(.failure(error))
            }
            connection?.close()
            connection = nil
            flushed = true
        }

        while true {
            let (submissions, stopping) = takePending()
            if !submissions.isEmpty {
                // A session idle since its last transaction may have been closed by the server
                // (a restart, `pg_terminate_backend`): found without a round trip, and replaced
                // before anything is sent on it.
                if let live = connection, inFlight.isEmpty, !live.checkAlive() {
                    logger.info("pipeline lane session closed while idle; connecting again")
                    live.close()
                    connection = nil
                }
                if connection == nil {
                    if let failure = connectFailure, ContinuousClock.now - failure.at < Self.reconnectBackoff {
                        for submission in submissions { submission.pending.complete(.failure(failure.error)) }
                        continue
                    }
                    do {
                        let opened = try LibPQConnection.connect(configuration)
                        for (sql, name) in prepared { try opened.prepare(name: name, sql: sql) }
                        try opened.beginLane()
                        connection = opened
                        connectFailure = nil
                    } catch {
                        logger.warning("pipeline lane cannot connect", metadata: ["error": "\(error)"])
                        connectFailure = (ContinuousClock.now, error)
                        for submission in submissions { submission.pending.complete(.failure(error)) }
                        continue
                    }
                }
                for submission in submissions {
                    guard let live = connection else {
                        submission.pending.complete(.failure(PostgresError(code: .connection, message: "connection to PostgreSQL is closed", sqlState: "08003")))
                        continue
                    }
                    do {
                        try live.sendSegment(submission.statements, prepared: prepared)
                        metrics.queries.increment(by: Int64(submission.statements.count))
                        inFlight.append(InFlight(pending: submission.pending, results: []))
                    } catch {
                        // Half a segment may have gone out: the session's state is unknown.
                        submission.pending.complete(.failure(error))
                        fail(error)
                    }
                }
                flushed = false
            }
            if stopping && inFlight.isEmpty && submissions.isEmpty {
                connection?.close()
                lock.lock()
                finished = true
                wakePipe.close()
                lock.unlock()
                return
            }
            if let live = connection, !flushed {
                do { flushed = try live.flushOutput() } catch { fail(error) }
            }
            var fds = [pollfd(fd: wakePipe.readEnd, events: Int16(POLLIN), revents: 0)]
            if let live = connection, !inFlight.isEmpty || !flushed {
                fds.append(pollfd(fd: live.socketDescriptor, events: Int16(POLLIN) | (flushed ? 0 : Int16(POLLOUT)), revents: 0))
            }
            let ready = poll(&fds, nfds_t(fds.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                fail(PostgresError(code: .connection, message: "poll failed: errno \(errno)", sqlState: "08006"))
                continue
            }
            if fds[0].revents != 0 { wakePipe.drain() }
            guard fds.count > 1, fds[1].revents != 0, let live = connection else { continue }
            do {
                if fds[1].revents & Int16(POLLIN | POLLERR | POLLHUP) != 0 { try live.consumeInput() }
                while let event = try live.nextPipelineEvent() {
                    guard !inFlight.isEmpty else {
                        if case .endOfStatement = event { break }
                        throw PostgresError(code: .connection, message: "pipeline result with nothing in flight", sqlState: "08P01")
                    }
                    switch event {
                    case .rows(let rows):
                        inFlight[0].current = rows
                    case .error(let error):
                        if inFlight[0].firstError == nil {
                            var indexed = error
                            indexed.statementIndex = inFlight[0].results.count
                            inFlight[0].firstError = indexed
                        }
                    case .aborted:
                        break
                    case .endOfStatement:
                        inFlight[0].results.append(inFlight[0].current ?? .empty)
                        inFlight[0].current = nil
                    case .sync:
                        let done = inFlight.removeFirst()
                        if let error = done.firstError {
                            metrics.queryErrors.increment()
                            done.pending.complete(.failure(error))
                        } else {
                            done.pending.complete(.success(done.results))
                        }
                    }
                }
            } catch {
                fail(error)
            }
        }
    }
}
