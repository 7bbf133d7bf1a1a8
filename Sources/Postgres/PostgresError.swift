/// An error from the PostgreSQL client: a server error (always with its SQLSTATE),
/// a lost or refused connection, a pool timeout, a decoding failure, or bad configuration.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// The broad category of a `PostgresError`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let raw: String
        private init(_ raw: String) { self.raw = raw }
        /// The code whose `description` is `name` (an error carried as text, e.g. between processes).
        public init(named name: String) { self.raw = name }

        /// The server answered the statement with an error; `sqlState` is set.
        public static let server = Code("server")
        /// The connection was lost while talking to the server (SQLSTATE class 08 / 57P0x).
        public static let connection = Code("connection")
        /// No connection could be established: PostgreSQL is down or unreachable.
        public static let unavailable = Code("unavailable")
        /// `acquire` waited `acquireTimeout` without getting a pooled connection.
        public static let poolTimeout = Code("poolTimeout")
        /// The client (pool or listener) has been closed.
        public static let closed = Code("closed")
        /// A value could not be decoded from its text representation, or a column was missing.
        public static let decoding = Code("decoding")
        /// The connection URL could not be parsed.
        public static let invalidURL = Code("invalidURL")
        /// The API was misused (e.g. a bad LISTEN channel name, nested `transactionPipeline`).
        public static let invalidArgument = Code("invalidArgument")
        /// Migrations are inconsistent with what the database has recorded (e.g. checksum mismatch).
        public static let migration = Code("migration")

        public var description: String { raw }
    }

    /// The category of the error.
    public var code: Code
    /// The primary, human-readable message (from the server when `code == .server`).
    public var message: String
    /// The five-character SQLSTATE. Set on every server error; connection losses report class 08
    /// (`08006`, or `08001` when connecting failed) unless the server sent its own (e.g. `57P01`).
    public var sqlState: String?
    /// The server's DETAIL field, if any.
    public var detail: String?
    /// The server's HINT field, if any.
    public var hint: String?
    /// The name of the violated constraint, if any.
    public var constraint: String?
    /// The table the error relates to, if any.
    public var table: String?
    /// The index of the failing statement within a `pipeline`/`transactionPipeline` call
    /// (counting only the caller's statements, from 0).
    public var statementIndex: Int?

    /// Creates an error. Normally produced by the client; public for tests and adapters.
    public init(
        code: Code, message: String, sqlState: String? = nil, detail: String? = nil,
        hint: String? = nil, constraint: String? = nil, table: String? = nil, statementIndex: Int? = nil
    ) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
        self.table = table
        self.statementIndex = statementIndex
    }

    /// `55P03 lock_not_available`: `lock_timeout` expired or `NOWAIT` failed.
    public var isLockTimeout: Bool { sqlState == "55P03" }
    /// `40001 serialization_failure`: retry the transaction.
    public var isSerializationFailure: Bool { sqlState == "40001" }
    /// `40P01 deadlock_detected`: retry the transaction.
    public var isDeadlock: Bool { sqlState == "40P01" }
    /// `23505 unique_violation`.
    public var isUniqueViolation: Bool { sqlState == "23505" }
    /// `23514 check_violation`.
    public var isCheckViolation: Bool { sqlState == "23514" }
    /// `57014 query_canceled` (includes `statement_timeout`).
    public var isQueryCanceled: Bool { sqlState == "57014" }
    /// True when the transaction may simply be retried (serialization failure or deadlock).
    public var isRetryableTransactionFailure: Bool { isSerializationFailure || isDeadlock }

    /// True when the error means the connection (or the server) is gone, so the connection
    /// must not be reused: `.connection`/`.unavailable`, SQLSTATE class `08`, or `57P01`-`57P03`.
    public var isConnectionFailure: Bool {
        if code == .connection || code == .unavailable { return true }
        guard let state = sqlState else { return false }
        return state.hasPrefix("08") || state == "57P01" || state == "57P02" || state == "57P03"
    }

    public var description: String {
        var text = "PostgresError(\(code)"
        if let sqlState { text += ", sqlState: \(sqlState)" }
        if let statementIndex { text += ", statement: \(statementIndex)" }
        text += "): \(message)"
        if let detail { text += " — detail: \(detail)" }
        if let constraint { text += " — constraint: \(constraint)" }
        return text
    }
}
