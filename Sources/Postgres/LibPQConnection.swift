import CLibPQ
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where libpq's notice processor sends server notices.
private let postgresNoticeLogger = Logger(label: "waitroom.postgres.notice")

/// A libpq `PGconn` and the synchronous operations on it.
///
/// Not thread-safe: every instance is confined to one `ConnectionThread` (or, for the listener,
/// to its own loop thread), and all methods are only called from jobs running there.
/// Marked `@unchecked Sendable` only so those jobs can capture it.
final class LibPQConnection: @unchecked Sendable {
    private var conn: OpaquePointer?
    /// The server process id of this session.
    let backendPID: Int32

    private init(conn: OpaquePointer) {
        self.conn = conn
        self.backendPID = PQbackendPID(conn)
    }

    deinit {
        if let conn { PQfinish(conn) }
    }

    // MARK: Connecting

    /// Connects (blocking, bounded by `connect_timeout`). Throws `.unavailable` with SQLSTATE 08001.
    static func connect(_ configuration: PostgresConfiguration) throws -> LibPQConnection {
        let params = configuration.libpqParameters
        var keys: [UnsafePointer<CChar>?] = params.map { UnsafePointer(strdup($0.0)) }
        var values: [UnsafePointer<CChar>?] = params.map { UnsafePointer(strdup($0.1)) }
        defer {
            for p in keys { free(UnsafeMutablePointer(mutating: p)) }
            for p in values { free(UnsafeMutablePointer(mutating: p)) }
        }
        keys.append(nil)
        values.append(nil)
        let raw: OpaquePointer? = keys.withUnsafeBufferPointer { k in
            values.withUnsafeBufferPointer { v in
                PQconnectdbParams(k.baseAddress, v.baseAddress, 0)
            }
        }
        guard let raw else {
            throw PostgresError(code: .unavailable, message: "libpq could not allocate a connection", sqlState: "08001")
        }
        guard PQstatus(raw) == CONNECTION_OK else {
            let message = Self.trim(PQerrorMessage(raw))
            PQfinish(raw)
            // A server-side refusal (bad password, unknown database, too many connections)
            // carries no SQLSTATE through PQconnectdb; report them all as 08001.
            throw PostgresError(code: .unavailable, message: "cannot connect to PostgreSQL: \(message)", sqlState: "08001")
        }
        // Server notices ("relation … already exists, skipping") go to the log, not to stderr.
        PQsetNoticeProcessor(raw, { _, message in
            guard let message else { return }
            let text = String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
            if text.hasPrefix("WARNING") {
                postgresNoticeLogger.warning("\(text)")
            } else {
                postgresNoticeLogger.debug("\(text)")
            }
        }, nil)
        return LibPQConnection(conn: raw)
    }

    /// Closes the connection. Idempotent.
    func close() {
        if let conn { PQfinish(conn) }
        conn = nil
    }

    /// True when the socket is up (libpq's view; see `checkAlive` for a real check).
    var isConnectionOK: Bool {
        guard let conn else { return false }
        return PQstatus(conn) == CONNECTION_OK
    }

    /// True when the session is idle outside any transaction.
    var isIdle: Bool {
        guard let conn else { return false }
        return PQtransactionStatus(conn) == PQTRANS_IDLE
    }

    var inTransaction: Bool {
        guard let conn else { return false }
        let s = PQtransactionStatus(conn)
        return s == PQTRANS_INTRANS || s == PQTRANS_INERROR
    }

    var socket: Int32 {
        guard let conn else { return -1 }
        return PQsocket(conn)
    }

    /// Cheap liveness check for an idle connection, done before handing it out: reads anything
    /// the server sent while we were idle (such as the FATAL 57P01 of `pg_terminate_backend`
    /// followed by EOF) without blocking, and reports whether the session is still usable.
    func checkAlive() -> Bool {
        guard let conn, PQstatus(conn) == CONNECTION_OK else { return false }
        var pfd = pollfd(fd: PQsocket(conn), events: Int16(POLLIN), revents: 0)
        var rounds = 0
        while rounds < 16, poll(&pfd, 1, 0) > 0 {
            rounds += 1
            if PQconsumeInput(conn) == 0 { return false }
            drainNotifications()
            if PQstatus(conn) != CONNECTION_OK { return false }
        }
        return PQstatus(conn) == CONNECTION_OK
    }

    /// Frees notifications queued on a pooled connection (pooled connections do not LISTEN,
    /// but a stray one must not accumulate).
    private func drainNotifications() {
        guard let conn else { return }
        while let n = PQnotifies(conn) { PQfreemem(n) }
    }

    /// Reads whatever the server sent and returns queued notifications, or `nil` when the
    /// connection is lost. Never blocks.
    func readNotifications() -> [PostgresNotification]? {
        guard let conn, PQstatus(conn) == CONNECTION_OK else { return nil }
        if PQconsumeInput(conn) == 0 { return nil }
        return takeNotifications()
    }

    /// Returns notifications already queued inside libpq (e.g. received during a command).
    func takeNotifications() -> [PostgresNotification] {
        guard let conn else { return [] }
        var out: [PostgresNotification] = []
        while let n = PQnotifies(conn) {
            out.append(PostgresNotification(
                channel: String(cString: n.pointee.relname),
                payload: n.pointee.extra.map { String(cString: $0) } ?? "",
                backendPID: n.pointee.be_pid))
            PQfreemem(n)
        }
        return out
    }

    // MARK: Queries

    /// Runs one statement with out-of-band text parameters (`PQexecParams`).
    func query(_ sql: String, _ params: [PostgresValue]) throws -> PostgresRows {
        let conn = try live()
        let result: OpaquePointer? = try Self.withParameters(sql, params) { n, types, values in
            PQexecParams(conn, sql, n, types, values, nil, nil, 0)
        }
        return try consume(result, statementIndex: nil)
    }

    /// Runs a script of one or more statements with no parameters (`PQexec`, simple protocol).
    /// Only for trusted SQL such as migration bodies. Returns the last statement's result.
    func executeScript(_ sql: String) throws -> PostgresRows {
        let conn = try live()
        guard !sql.utf8.contains(0) else {
            throw PostgresError(code: .invalidArgument, message: "SQL contains a NUL byte")
        }
        // PQexec returns only the last result; an error stops the script.
        return try consume(PQexec(conn, sql), statementIndex: nil)
    }

    /// Sends all statements in pipeline mode followed by one Sync: one round trip.
    /// Returns one `PostgresRows` per statement or throws the first failure (with its index).
    /// Statements between Syncs form one implicit transaction unless they BEGIN their own.
    func pipeline(_ statements: [PostgresStatement]) throws -> [PostgresRows] {
        let conn = try live()
        if statements.isEmpty { return [] }
        for (index, statement) in statements.enumerated() {
            // Validate up front: failing half-way through sending would cost the session.
            do {
                _ = try Self.withParameters(statement.sql, statement.params) { _, _, _ in () }
            } catch var error as PostgresError {
                error.statementIndex = index
                throw error
            }
        }
        guard PQenterPipelineMode(conn) == 1 else { throw currentError(statementIndex: nil) }
        guard PQsetnonblocking(conn, 1) == 0 else {
            _ = PQexitPipelineMode(conn)
            throw currentError(statementIndex: nil)
        }
        var completed = false
        defer {
            if completed {
                if PQexitPipelineMode(conn) != 1 { close() }
                if let c = self.conn { _ = PQsetnonblocking(c, 0) }
            } else {
                // Mid-pipeline failure: the protocol state is unknown; drop the session.
                close()
            }
        }

        try sendSegment(statements)

        var results = [PostgresRows?](repeating: nil, count: statements.count)
        var firstError: PostgresError?
        var index = 0
        var flushed = false
        let fd = PQsocket(conn)
        /// A failure reading the results names the statement being read.
        func at<T>(_ index: Int, _ body: () throws -> T) throws -> T {
            do {
                return try body()
            } catch var error as PostgresError {
                if error.statementIndex == nil { error.statementIndex = index }
                throw error
            }
        }
        readLoop: while true {
            if !flushed { flushed = try flushOutput() }
            while let event = try at(index, { try nextPipelineEvent() }) {
                switch event {
                case .endOfStatement:
                    index += 1
                    if index > statements.count + 1 {
                        throw PostgresError(code: .connection, message: "pipeline result stream out of step", sqlState: "08P01")
                    }
                case .sync:
                    break readLoop
                case .aborted:
                    break
                case .error(var error):
                    if firstError == nil {
                        error.statementIndex = index
                        firstError = error
                    }
                case .rows(let rows):
                    if index < results.count { results[index] = rows }
                }
            }
            // Need more input (and maybe to finish sending): wait for the socket.
            var pfd = pollfd(fd: fd, events: Int16(POLLIN) | (flushed ? 0 : Int16(POLLOUT)), revents: 0)
            let n = poll(&pfd, 1, -1)
            if n < 0 {
                if errno == EINTR { continue }
                throw PostgresError(code: .connection, message: "poll failed: errno \(errno)", sqlState: "08006")
            }
            if pfd.revents & Int16(POLLIN | POLLERR | POLLHUP) != 0 {
                try at(index) { try consumeInput() }
            }
        }
        completed = true
        if let firstError { throw firstError }
        return results.map { $0 ?? .empty }
    }

    /// `BEGIN; statements...; COMMIT` in a single pipeline: one round trip for the whole
    /// transaction. On failure the transaction is rolled back (one extra round trip, only then)
    /// and the error carries the failing statement's index (`statements.count` = the COMMIT,
    /// `nil` = the BEGIN).
    func transactionPipeline(_ statements: [PostgresStatement], isolation: TransactionIsolation) throws -> [PostgresRows] {
        _ = try live()
        guard isIdle else {
            throw PostgresError(code: .invalidArgument, message: "transactionPipeline cannot run inside an open transaction")
        }
        if statements.isEmpty { return [] }
        let all = [PostgresStatement(isolation.beginStatement)] + statements + [PostgresStatement("COMMIT")]
        do {
            let results = try pipeline(all)
            return Array(results[1...statements.count])
        } catch var error as PostgresError {
            if let i = error.statementIndex { error.statementIndex = i == 0 ? nil : i - 1 }
            if isConnectionOK && !isIdle { _ = try? query("ROLLBACK", []) }
            throw error
        }
    }

    /// Makes an idle-on-release connection reusable: rolls back a transaction left open.
    /// Returns false when the connection must be discarded.
    func resetForReuse() -> Bool {
        guard let conn, PQstatus(conn) == CONNECTION_OK else { return false }
        if PQpipelineStatus(conn) != PQ_PIPELINE_OFF { return false }
        switch PQtransactionStatus(conn) {
        case PQTRANS_IDLE:
            return true
        case PQTRANS_INTRANS, PQTRANS_INERROR:
            do {
                _ = try query("ROLLBACK", [])
                return isIdle
            } catch {
                return false
            }
        default:
            return false
        }
    }

    // MARK: Pipeline mode: the steps of `pipeline` and of `PostgresPipelineLane` (several
    // segments in flight)

    /// What a pipeline reads next from the connection.
    enum PipelineEvent {
        case rows(PostgresRows)
        case error(PostgresError)
        /// A statement's results are complete.
        case endOfStatement
        /// A statement skipped because an earlier one of its segment failed.
        case aborted
        /// The segment's Sync: its implicit transaction committed (or was rolled back after an error).
        case sync
    }

    /// Puts the connection in non-blocking pipeline mode for good.
    func beginLane() throws {
        let conn = try live()
        guard PQenterPipelineMode(conn) == 1 else { throw currentError(statementIndex: nil) }
        guard PQsetnonblocking(conn, 1) == 0 else { throw currentError(statementIndex: nil) }
    }

    /// Prepares `sql` as the named statement `name` for this session (blocking; before
    /// `beginLane`). Its parameters' types are the ones the statement implies.
    func prepare(name: String, sql: String) throws {
        let conn = try live()
        guard !sql.utf8.contains(0) else {
            throw PostgresError(code: .invalidArgument, message: "SQL contains a NUL byte")
        }
        _ = try consume(PQprepare(conn, name, sql, 0, nil), statementIndex: nil)
    }

    /// Queues `statements` and a Sync: one implicit transaction (unless a statement begins one),
    /// committed at the Sync. A statement whose SQL is a key of `prepared` runs as that named
    /// statement (prepared on this session with `prepare`): no parsing and planning per run.
    func sendSegment(_ statements: [PostgresStatement], prepared: [String: String] = [:]) throws {
        let conn = try live()
        for (index, statement) in statements.enumerated() {
            let ok = try Self.withParameters(statement.sql, statement.params) { n, types, values in
                if let name = prepared[statement.sql] {
                    return PQsendQueryPrepared(conn, name, n, values, nil, nil, 0)
                }
                return PQsendQueryParams(conn, statement.sql, n, types, values, nil, nil, 0)
            }
            guard ok == 1 else { throw currentError(statementIndex: index) }
        }
        guard PQpipelineSync(conn) == 1 else { throw currentError(statementIndex: nil) }
    }

    /// Sends what is queued as far as the socket takes it; `true` when all of it went.
    func flushOutput() throws -> Bool {
        let conn = try live()
        let result = PQflush(conn)
        if result < 0 { throw currentError(statementIndex: nil) }
        return result == 0
    }

    var socketDescriptor: Int32 { conn.map { PQsocket($0) } ?? -1 }

    /// Reads what the socket has.
    func consumeInput() throws {
        let conn = try live()
        guard PQconsumeInput(conn) == 1 else { throw currentError(statementIndex: nil) }
    }

    /// The next event that can be read without waiting, or `nil`.
    func nextPipelineEvent() throws -> PipelineEvent? {
        let conn = try live()
        guard PQisBusy(conn) == 0 else { return nil }
        guard let result = PQgetResult(conn) else {
            if PQstatus(conn) != CONNECTION_OK { throw currentError(statementIndex: nil) }
            return .endOfStatement
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_PIPELINE_SYNC: return .sync
        case PGRES_PIPELINE_ABORTED: return .aborted
        case PGRES_FATAL_ERROR, PGRES_BAD_RESPONSE, PGRES_NONFATAL_ERROR: return .error(makeError(result, statementIndex: nil))
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            throw PostgresError(code: .invalidArgument, message: "COPY is not supported")
        default: return .rows(Self.rows(from: result))
        }
    }

    // MARK: Results and errors

    private func live() throws -> OpaquePointer {
        guard let conn, PQstatus(conn) == CONNECTION_OK else {
            throw PostgresError(code: .connection, message: "connection to PostgreSQL is closed", sqlState: "08003")
        }
        return conn
    }

    /// Turns a `PGresult` into rows or throws its error; always frees the result.
    private func consume(_ result: OpaquePointer?, statementIndex: Int?) throws -> PostgresRows {
        guard let result else { throw currentError(statementIndex: statementIndex) }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY, PGRES_SINGLE_TUPLE:
            return Self.rows(from: result)
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            // Not supported; the session is now in COPY state, so drop it.
            close()
            throw PostgresError(code: .invalidArgument, message: "COPY is not supported")
        default:
            throw makeError(result, statementIndex: statementIndex)
        }
    }

    private static func rows(from result: OpaquePointer) -> PostgresRows {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        var columns: [PostgresColumn] = []
        columns.reserveCapacity(columnCount)
        for c in 0..<columnCount {
            let name = PQfname(result, Int32(c)).map { String(cString: $0) } ?? ""
            columns.append(PostgresColumn(name: name, typeOID: UInt32(PQftype(result, Int32(c)))))
        }
        var values: [String?] = []
        values.reserveCapacity(rowCount * columnCount)
        for r in 0..<rowCount {
            for c in 0..<columnCount {
                if PQgetisnull(result, Int32(r), Int32(c)) == 1 {
                    values.append(nil)
                } else {
                    let length = Int(PQgetlength(result, Int32(r), Int32(c)))
                    let pointer = PQgetvalue(result, Int32(r), Int32(c))!
                    let buffer = UnsafeRawBufferPointer(start: pointer, count: length)
                    values.append(String(decoding: buffer, as: UTF8.self))
                }
            }
        }
        let tag = PQcmdStatus(result).map { String(cString: $0) } ?? ""
        let tuples = PQcmdTuples(result).map { String(cString: $0) } ?? ""
        return PostgresRows(columns: columns, values: values, affectedRows: Int(tuples) ?? 0, commandTag: tag)
    }

    /// Builds an error from a failed result, marking connection-level failures.
    private func makeError(_ result: OpaquePointer, statementIndex: Int?) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let p = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
            return String(cString: p)
        }
        let connectionBad = conn.map { PQstatus($0) != CONNECTION_OK } ?? true
        var sqlState = field("C")
        let message = field("M") ?? Self.trim(PQresultErrorMessage(result))
        let code: PostgresError.Code
        if connectionBad {
            code = .connection
            if sqlState == nil { sqlState = "08006" }
        } else if sqlState == nil {
            // A client-side libpq failure without SQLSTATE: the session state is unknown.
            code = .connection
            sqlState = "08P01"
            close()
        } else {
            code = .server
        }
        return PostgresError(
            code: code, message: message.isEmpty ? "query failed" : message, sqlState: sqlState,
            detail: field("D"), hint: field("H"), constraint: field("n"), table: field("t"),
            statementIndex: statementIndex)
    }

    /// The error libpq reports on the connection itself (no result available).
    private func currentError(statementIndex: Int?) -> PostgresError {
        let message = conn.map { Self.trim(PQerrorMessage($0)) } ?? "connection is closed"
        return PostgresError(
            code: .connection, message: message.isEmpty ? "connection to PostgreSQL failed" : message,
            sqlState: "08006", statementIndex: statementIndex)
    }

    private static func trim(_ p: UnsafePointer<CChar>?) -> String {
        guard let p else { return "" }
        return String(cString: p).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Presents parameters as the C arrays libpq wants, valid only inside `body`.
    private static func withParameters<R>(
        _ sql: String, _ params: [PostgresValue],
        _ body: (Int32, UnsafePointer<Oid>?, UnsafePointer<UnsafePointer<CChar>?>?) throws -> R
    ) throws -> R {
        guard !sql.utf8.contains(0) else {
            throw PostgresError(code: .invalidArgument, message: "SQL contains a NUL byte")
        }
        var types: [Oid] = []
        var values: [UnsafePointer<CChar>?] = []
        types.reserveCapacity(params.count)
        values.reserveCapacity(params.count)
        defer { for v in values { free(UnsafeMutablePointer(mutating: v)) } }
        for (i, param) in params.enumerated() {
            let (oid, text) = param.wire
            types.append(Oid(oid))
            if let text {
                guard !text.utf8.contains(0) else {
                    throw PostgresError(code: .invalidArgument, message: "parameter $\(i + 1) contains a NUL byte")
                }
                values.append(UnsafePointer(strdup(text)))
            } else {
                values.append(nil)
            }
        }
        return try types.withUnsafeBufferPointer { t in
            try values.withUnsafeBufferPointer { v in
                try body(Int32(params.count), t.baseAddress, v.baseAddress)
            }
        }
    }
}
