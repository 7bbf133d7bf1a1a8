import Logging
import Postgres
import PostgresTestSupport
import Testing

@Suite("Migrations")
struct MigratorTests {
    static let migrations = [
        Migration(version: 1, name: "create events", sql: """
            CREATE TABLE events (id bigserial PRIMARY KEY, name text NOT NULL);
            CREATE TABLE applied_log (version int NOT NULL);
            INSERT INTO applied_log VALUES (1);
            """),
        Migration(version: 2, name: "seats", sql: """
            CREATE TABLE seats (id bigserial PRIMARY KEY, event_id bigint REFERENCES events(id), holder text);
            INSERT INTO applied_log VALUES (2);
            """),
        Migration(version: 3, name: "seat index", sql: """
            CREATE INDEX seats_event ON seats (event_id);
            INSERT INTO applied_log VALUES (3);
            """),
    ]

    @Test func fourConcurrentMigratorsApplyEachMigrationExactlyOnce() async throws {
        try await TestDatabase.withSchema { admin, schema in
            // Four independent clients, as four processes starting at once would have.
            var clients: [PostgresClient] = []
            for _ in 0..<4 { clients.append(try await TestDatabase.client(poolSize: 2, schema: schema)) }
            let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
                for client in clients {
                    group.addTask {
                        try await Migrator(client: client, migrations: Self.migrations, logger: TestDatabase.logger)
                            .migrate().map(\.version)
                    }
                }
                var all: [Int] = []
                for try await versions in group { all += versions }
                return all
            }
            for client in clients { await client.close() }
            #expect(applied.sorted() == [1, 2, 3])
            let log = try await admin.query("SELECT version FROM applied_log ORDER BY version")
            #expect(try log.map { try $0.decode(Int.self, at: 0) } == [1, 2, 3])
            let recorded = try await admin.query("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version")
            #expect(try recorded.map { try $0.decode(Int.self, at: 0) } == [1, 2, 3])
            #expect(try recorded.first?.decode(String.self, column: "checksum") == Self.migrations[0].checksum)

            // Running again applies nothing.
            let again = try await Migrator(client: admin, migrations: Self.migrations, logger: TestDatabase.logger).migrate()
            #expect(again.isEmpty)
        }
    }

    @Test func appliesOnlyNewMigrationsAndRejectsEditedOnes() async throws {
        try await TestDatabase.withSchema { client, _ in
            let first = try await Migrator(client: client, migrations: Array(Self.migrations.prefix(2)), logger: TestDatabase.logger).migrate()
            #expect(first.map(\.version) == [1, 2])
            let second = try await Migrator(client: client, migrations: Self.migrations, logger: TestDatabase.logger).migrate()
            #expect(second.map(\.version) == [3])

            var edited = Self.migrations
            edited[1].sql += "\n-- sneaky edit"
            let error = await #expect(throws: PostgresError.self) {
                try await Migrator(client: client, migrations: edited, logger: TestDatabase.logger).migrate()
            }
            #expect(error?.code == .migration)
        }
    }

    @Test func failedMigrationLeavesNoTrace() async throws {
        try await TestDatabase.withSchema { client, _ in
            let broken = Self.migrations + [Migration(version: 4, name: "broken", sql: """
                CREATE TABLE half_done (id int);
                SELECT * FROM no_such_table;
                """)]
            let error = await #expect(throws: PostgresError.self) {
                try await Migrator(client: client, migrations: broken, logger: TestDatabase.logger).migrate()
            }
            #expect(error?.sqlState == "42P01")
            let versions = try await client.query("SELECT version FROM schema_migrations ORDER BY version")
            #expect(try versions.map { try $0.decode(Int.self, at: 0) } == [1, 2, 3])
            let table = try await client.query("SELECT to_regclass('half_done') IS NULL")
            #expect(try table.first?.decode(Bool.self, at: 0) == true)
        }
    }

    @Test func rejectsDuplicateVersions() async throws {
        let client = try await TestDatabase.client(poolSize: 1)
        let error = await #expect(throws: PostgresError.self) {
            try await Migrator(client: client, migrations: Self.migrations + [Self.migrations[0]], logger: TestDatabase.logger).migrate()
        }
        #expect(error?.code == .migration)
        await client.close()
    }
}
