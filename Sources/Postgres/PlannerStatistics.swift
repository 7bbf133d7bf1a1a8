/// Keeps the planner's statistics of small, fast-growing tables current, so that cached plans do
/// not outlive the table sizes they were made for.
///
/// A connection plans a statement (a prepared one, or one inside a PL/pgSQL function) once and
/// keeps the plan until the statistics of a table it reads change. A plan made while a table was
/// empty or nearly so scans it whole (a sequential scan, or a full index scan under a join
/// filter), which is right for ten rows and ruinous for a hundred thousand. Autovacuum analyzes a
/// table only after `autovacuum_naptime` (a minute by default) has passed, and that minute is the
/// start of an on-sale: measured on `bench-reserve` from empty tables, PostgreSQL's CPU per
/// reservation rose from about 300 µs to 2,000 and then 5,000 µs until autovacuum caught up.
///
/// `refresh()` analyzes each table of the current schema that has grown to more than four times
/// its analyzed size plus `minimumRows` live rows, while that size is under `untilRows` (past it,
/// autovacuum's own threshold, 10% changed, comes sooner). Growth, not changes, is the test: a
/// small table updated all the time (a hot ticket class) keeps its plans. `ANALYZE` updates the
/// statistics and invalidates every connection's cached plans on the table, so each plans again
/// for the size the table has now. A table is analyzed this way a few times in its life (at about
/// 1,000, 5,000, 21,000 and 85,000 rows, then autovacuum alone).
public struct PlannerStatistics: Sendable {
    public let database: PostgresClient
    public let minimumRows: Int
    public let untilRows: Int

    public init(database: PostgresClient, minimumRows: Int = 1_000, untilRows: Int = 100_000) {
        self.database = database
        self.minimumRows = minimumRows
        self.untilRows = untilRows
    }

    /// The tables of the current schema that `refresh()` would analyze now (quoted names).
    public func staleTables() async throws -> [String] {
        try await database.query("""
            SELECT quote_ident(s.relname)
            FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
            WHERE s.schemaname = current_schema()
              AND c.reltuples < $1::real
              AND s.n_live_tup > 4 * greatest(c.reltuples, 0) + $2::bigint
            ORDER BY 1
            """, [.int(Int64(untilRows)), .int(Int64(minimumRows))]).map { try $0.decode(String.self, at: 0) }
    }

    /// Analyzes the stale tables; returns their names. Another process analyzing the same table at
    /// the same moment only waits for it (the second analyze finds little to do).
    @discardableResult
    public func refresh() async throws -> [String] {
        let tables = try await staleTables()
        guard !tables.isEmpty else { return [] }
        // The names come quoted from quote_ident: safe to put into the statement.
        _ = try await database.query("ANALYZE " + tables.joined(separator: ", "))
        return tables
    }
}
