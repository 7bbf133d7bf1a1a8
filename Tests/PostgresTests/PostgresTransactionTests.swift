import Postgres
import PostgresTestSupport
import Testing

@Suite("Transactions and pipelines")
struct PostgresTransactionTests {
    struct Boom: Error {}

    @Test func transactionCommits() async throws {
        try await TestDatabase.withSchema { client, _ in
            _ = try await client.query("CREATE TABLE t (id int PRIMARY KEY)")
            let value = try await client.withTransaction { connection in
                _ = try await connection.query("INSERT INTO t VALUES ($1)", [1])
                _ = try await connection.query("INSERT INTO t VALUES ($1)", [2])
                return "done"
            }
            #expect(value == "done")
            let count = try await client.query("SELECT count(*) FROM t")
            #expect(try count.first?.decode(Int.self, at: 0) == 2)
        }
    }

    @Test func transactionRollsBackOnThrow() async throws {
        try await TestDatabase.withSchema(poolSize: 1) { client, _ in
            _ = try await client.query("CREATE TABLE t (id int PRIMARY KEY)")
            await #expect(throws: Boom.self) {
                try await client.withTransaction(isolation: .serializable) { connection in
                    _ = try await connection.query("INSERT INTO t VALUES ($1)", [1])
                    throw Boom()
                }
            }
            // A server error inside the body also rolls back.
            await #expect(throws: PostgresError.self) {
                try await client.withTransaction { connection in
                    _ = try await connection.query("INSERT INTO t VALUES ($1)", [2])
                    _ = try await connection.query("INSERT INTO t VALUES ($1)", [2])
                }
            }
            let count = try await client.query("SELECT count(*) FROM t")
            #expect(try count.first?.decode(Int.self, at: 0) == 0)
        }
    }

    @Test func transactionLeftOpenIsRolledBackOnRelease() async throws {
        try await TestDatabase.withSchema(poolSize: 1) { client, _ in
            _ = try await client.query("CREATE TABLE t (id int)")
            try await client.withConnection { connection in
                _ = try await connection.query("BEGIN")
                _ = try await connection.query("INSERT INTO t VALUES (1)")
                // Forgot to COMMIT.
            }
            let rows = try await client.query("SELECT count(*) FROM t")
            #expect(try rows.first?.decode(Int.self, at: 0) == 0)
            let savepoint = await #expect(throws: PostgresError.self) { try await client.query("SAVEPOINT probe") }
            #expect(savepoint?.sqlState == "25P01")  // not inside a transaction any more
        }
    }

    @Test func pipelineOfThreeStatementsReturnsThreeResults() async throws {
        try await TestDatabase.withSchema { client, _ in
            _ = try await client.query("CREATE TABLE t (id int PRIMARY KEY, name text)")
            let results = try await client.pipeline([
                PostgresStatement("INSERT INTO t VALUES ($1, $2)", [1, "one"]),
                PostgresStatement("UPDATE t SET name = $1 WHERE id = $2", ["uno", 1]),
                PostgresStatement("SELECT id, name FROM t WHERE id = $1", [1]),
            ])
            #expect(results.count == 3)
            #expect(results[0].affectedRows == 1)
            #expect(results[1].affectedRows == 1)
            #expect(try results[2].first?.decode(String.self, column: "name") == "uno")
        }
    }

    @Test func pipelineOfFiftyStatementsKeepsResultsInOrder() async throws {
        let client = try await TestDatabase.client(poolSize: 1)
        let statements = (0..<50).map { PostgresStatement("SELECT $1::int8 * 2", [.int(Int64($0))]) }
        let results = try await client.pipeline(statements)
        #expect(results.count == 50)
        #expect(try results.enumerated().allSatisfy { try $1.first?.decode(Int.self, at: 0) == $0 * 2 })
        await client.close()
    }

    @Test func largePipelineDoesNotDeadlock() async throws {
        // Megabytes each way: sending must interleave with reading (non-blocking + poll loop).
        let client = try await TestDatabase.client(poolSize: 1)
        let big = String(repeating: "é", count: 50_000)
        let statements = (0..<120).map { i in
            PostgresStatement("SELECT length($1::text), repeat('x', $2::int)", [.string(big), .int(Int64(100_000 + i))])
        }
        let results = try await withTimeout(.seconds(60)) { try await client.pipeline(statements) }
        #expect(results.count == 120)
        for (i, rows) in results.enumerated() {
            #expect(try rows.first?.decode(Int.self, at: 0) == 50_000)
            #expect(try rows.first?.decode(String.self, at: 1).utf8.count == 100_000 + i)
        }
        try await client.ping()
        await client.close()
    }

    @Test func transactionPipelineFailureRollsBackEverything() async throws {
        try await TestDatabase.withSchema(poolSize: 1) { client, _ in
            _ = try await client.query("CREATE TABLE t (id int PRIMARY KEY, qty int CHECK (qty >= 0))")
            _ = try await client.query("INSERT INTO t VALUES (100, 0)")
            try await client.withConnection { connection in
                let error = await #expect(throws: PostgresError.self) {
                    try await connection.transactionPipeline([
                        PostgresStatement("INSERT INTO t VALUES ($1, $2)", [1, 5]),
                        PostgresStatement("INSERT INTO t VALUES ($1, $2)", [100, 1]),  // duplicate key
                        PostgresStatement("INSERT INTO t VALUES ($1, $2)", [3, 5]),
                    ])
                }
                #expect(error?.sqlState == "23505")
                #expect(error?.isUniqueViolation == true)
                #expect(error?.statementIndex == 1)
                #expect(error?.code == .server)
                // Same connection, still usable, and not inside a transaction any more.
                let rows = try await connection.query("SELECT count(*) FROM t")
                #expect(try rows.first?.decode(Int.self, at: 0) == 1)
                let savepoint = await #expect(throws: PostgresError.self) { try await connection.query("SAVEPOINT probe") }
                #expect(savepoint?.sqlState == "25P01")  // no_active_sql_transaction
            }

            // And a successful one commits all of it in one go.
            let results = try await client.transactionPipeline(isolation: .repeatableRead, [
                PostgresStatement("INSERT INTO t VALUES ($1, $2)", [1, 5]),
                PostgresStatement("UPDATE t SET qty = qty + $1 WHERE id = $2", [2, 1]),
                PostgresStatement("SELECT qty FROM t WHERE id = $1", [1]),
            ])
            #expect(results.count == 3)
            #expect(try results[2].first?.decode(Int.self, at: 0) == 7)
            let count = try await client.query("SELECT count(*) FROM t")
            #expect(try count.first?.decode(Int.self, at: 0) == 2)
        }
    }

    @Test func transactionPipelineCheckViolationAtLastStatement() async throws {
        try await TestDatabase.withSchema(poolSize: 1) { client, _ in
            _ = try await client.query("CREATE TABLE t (id int PRIMARY KEY, qty int CHECK (qty >= 0))")
            let error = await #expect(throws: PostgresError.self) {
                try await client.transactionPipeline([
                    PostgresStatement("INSERT INTO t VALUES (1, 1)"),
                    PostgresStatement("UPDATE t SET qty = qty - $1", [2]),
                ])
            }
            #expect(error?.isCheckViolation == true)
            #expect(error?.statementIndex == 1)
            let count = try await client.query("SELECT count(*) FROM t")
            #expect(try count.first?.decode(Int.self, at: 0) == 0)
        }
    }
}
