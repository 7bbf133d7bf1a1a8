import Logging

/// Applies versioned migrations, safely when several processes start at once.
///
/// Every step runs in a transaction that first takes `pg_advisory_xact_lock(lockKey)`, so
/// concurrent migrators serialize: one applies a migration while the others wait, then see it
/// recorded and skip it. Each migration runs in its own transaction together with its
/// `schema_migrations` row, so a failed migration leaves no trace and is retried next start.
/// Checksums of applied migrations are verified; a mismatch is an error (`.migration`).
/// Versions recorded in the database but unknown to this binary are tolerated (an older
/// binary running against a newer schema) and logged.
public struct Migrator: Sendable {
    /// The advisory lock key used by default ("waitroom" in ASCII, as an int64).
    public static let defaultLockKey: Int64 = 0x7761_6974_726F_6F6D

    private let client: PostgresClient
    private let migrations: [Migration]
    private let lockKey: Int64
    private let logger: Logger

    /// Creates a migrator. Versions must be unique and positive (checked by `migrate`).
    /// Tables are created in the session's `search_path` (see `PostgresConfiguration.searchPath`).
    public init(client: PostgresClient, migrations: [Migration], lockKey: Int64 = Migrator.defaultLockKey, logger: Logger) {
        self.client = client
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.lockKey = lockKey
        self.logger = logger
    }

    /// Applies every migration not yet recorded, in version order; returns those it applied
    /// (empty when the schema was already current or another process applied them).
    @discardableResult
    public func migrate() async throws -> [Migration] {
        try validate()
        var applied: [Migration] = []
        while true {
            let step = try await client.withTransaction { connection -> Migration? in
                _ = try await connection.query("SELECT pg_advisory_xact_lock($1)", [.int(lockKey)])
                _ = try await connection.query("""
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        version integer PRIMARY KEY,
                        name text NOT NULL,
                        checksum text NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now()
                    )
                    """)
                let rows = try await connection.query("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
                var recorded: [Int: String] = [:]
                for row in rows {
                    recorded[try row.decode(Int.self, at: 0)] = try row.decode(String.self, at: 2)
                }
                for migration in migrations {
                    if let checksum = recorded[migration.version], checksum != migration.checksum {
                        throw PostgresError(
                            code: .migration,
                            message: "migration \(migration.version) '\(migration.name)' was changed after it was applied "
                                + "(checksum \(checksum) in database, \(migration.checksum) in code)")
                    }
                }
                let known = Set(migrations.map(\.version))
                let unknown = recorded.keys.filter { !known.contains($0) }.sorted()
                if !unknown.isEmpty {
                    logger.warning("database has migrations this binary does not know", metadata: ["versions": "\(unknown)"])
                }
                guard let next = migrations.first(where: { recorded[$0.version] == nil }) else { return nil }
                logger.info("applying migration", metadata: ["version": "\(next.version)", "name": "\(next.name)"])
                try await connection.executeScript(next.sql)
                _ = try await connection.query(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    [.int(Int64(next.version)), .string(next.name), .string(next.checksum)])
                return next
            }
            guard let step else { break }
            applied.append(step)
        }
        if applied.isEmpty {
            logger.debug("schema is up to date", metadata: ["migrations": "\(migrations.count)"])
        } else {
            logger.info("migrations applied", metadata: ["versions": "\(applied.map(\.version))"])
        }
        return applied
    }

    private func validate() throws {
        var seen = Set<Int>()
        for migration in migrations {
            guard migration.version > 0 else {
                throw PostgresError(code: .migration, message: "migration version must be positive: \(migration.version)")
            }
            guard seen.insert(migration.version).inserted else {
                throw PostgresError(code: .migration, message: "duplicate migration version \(migration.version)")
            }
        }
    }
}
