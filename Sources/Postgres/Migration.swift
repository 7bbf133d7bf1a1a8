/// One versioned schema migration.
///
/// The body runs through the simple query protocol (`PQexec`), so it may contain several
/// statements; it must not contain user data, `BEGIN`/`COMMIT`, or statements that cannot run
/// inside a transaction (e.g. `CREATE INDEX CONCURRENTLY`), because each migration runs in a
/// transaction of its own. Never edit an applied migration: its checksum is verified.
public struct Migration: Sendable, Hashable {
    /// Strictly positive, unique version; migrations apply in ascending order.
    public var version: Int
    /// Short description, recorded in `schema_migrations`.
    public var name: String
    /// The SQL script.
    public var sql: String

    /// Creates a migration.
    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// FNV-1a 64 of the SQL, as 16 hex digits: detects edits to applied migrations
    /// (a change detector, not a security measure).
    public var checksum: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in sql.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
