import Foundation
import Postgres
import PostgresTestSupport
import Testing

@Suite("Pool behaviour against a real server")
struct PostgresPoolTests {
    @Test func terminatedIdleBackendIsReplacedWithoutAFailedQuery() async throws {
        let client = try await TestDatabase.client(poolSize: 1)
        let admin = try await TestDatabase.client(poolSize: 1)
        let before = try await client.query("SELECT pg_backend_pid()").first!.decode(Int32.self, at: 0)
        let killed = try await admin.query("SELECT pg_terminate_backend($1::int, 5000)", [before.postgresValue])
        #expect(try killed.first?.decode(Bool.self, at: 0) == true)

        // The idle connection is checked before it is lent out, so the very next query succeeds.
        let after = try await client.query("SELECT pg_backend_pid()").first!.decode(Int32.self, at: 0)
        #expect(after != before)
        #expect(client.openConnections == 1)
        await client.close()
        await admin.close()
    }

    @Test func backendTerminatedMidUseFailsOnceThenIsReplaced() async throws {
        let client = try await TestDatabase.client(poolSize: 1)
        let admin = try await TestDatabase.client(poolSize: 1)
        let error = try await client.withConnection { connection -> PostgresError? in
            _ = try await admin.query("SELECT pg_terminate_backend($1::int, 5000)", [connection.backendPID.postgresValue])
            // This connection was already lent out, so its next statement hits the dead session.
            do {
                _ = try await connection.query("SELECT 1")
                return nil
            } catch let error as PostgresError {
                return error
            }
        }
        let failure = try #require(error)
        #expect(failure.isConnectionFailure)
        #expect(failure.code == .connection)
        #expect(failure.sqlState == "57P01" || failure.sqlState?.hasPrefix("08") == true)
        // The broken connection was discarded on release; the pool opens a new one.
        let rows = try await client.query("SELECT 1")
        #expect(try rows.first?.decode(Int.self, at: 0) == 1)
        await client.close()
        await admin.close()
    }

    /// `query` leases a connection in one job (check, statement, reset): a backend that dies
    /// during that statement fails it once, and the connection is not handed out again.
    @Test func backendDyingDuringAOneJobLeaseIsDiscarded() async throws {
        let client = try await TestDatabase.client(poolSize: 1)
        let before = try await client.query("SELECT pg_backend_pid()").first!.decode(Int32.self, at: 0)
        await #expect(throws: PostgresError.self) {
            _ = try await client.query("SELECT pg_terminate_backend(pg_backend_pid())")
        }
        let after = try await client.query("SELECT pg_backend_pid()").first!.decode(Int32.self, at: 0)
        #expect(after != before)
        #expect(client.openConnections == 1)
        await client.close()
    }

    @Test func lockTimeoutSurfacesAs55P03() async throws {
        try await TestDatabase.withSchema(poolSize: 2) { client, _ in
            _ = try await client.query("CREATE TABLE seats (id int PRIMARY KEY, holder text)")
            _ = try await client.query("INSERT INTO seats VALUES (1, NULL)")
            try await client.withTransaction { a in
                _ = try await a.query("SELECT * FROM seats WHERE id = $1 FOR UPDATE", [1])
                let error = try await client.withConnection { b -> PostgresError? in
                    _ = try await b.query("SET lock_timeout = '100ms'")
                    do {
                        _ = try await b.query("SELECT * FROM seats WHERE id = $1 FOR UPDATE", [1])
                        return nil
                    } catch let error as PostgresError {
                        return error
                    }
                }
                let failure = try #require(error)
                #expect(failure.sqlState == "55P03")
                #expect(failure.isLockTimeout)
                #expect(failure.code == .server)
                #expect(!failure.isConnectionFailure)
            }
            // Also inside a transactionPipeline, with the timeout set per transaction.
            try await client.withConnection { a in
                _ = try await a.query("BEGIN")
                _ = try await a.query("SELECT * FROM seats WHERE id = 1 FOR UPDATE")
                let error = await #expect(throws: PostgresError.self) {
                    try await client.transactionPipeline([
                        PostgresStatement("SET LOCAL lock_timeout = '100ms'"),
                        PostgresStatement("UPDATE seats SET holder = $1 WHERE id = $2", ["b", 1]),
                    ])
                }
                #expect(error?.isLockTimeout == true)
                #expect(error?.statementIndex == 1)
                _ = try await a.query("ROLLBACK")
            }
        }
    }

    @Test func acquireTimesOutWhenThePoolIsExhausted() async throws {
        let client = try await TestDatabase.client(poolSize: 1, acquireTimeout: .milliseconds(200))
        try await client.withConnection { _ in
            let start = ContinuousClock.now
            let error = await #expect(throws: PostgresError.self) { try await client.query("SELECT 1") }
            let waited = ContinuousClock.now - start
            #expect(error?.code == .poolTimeout)
            #expect(waited >= .milliseconds(190))
            #expect(waited < .seconds(2))
        }
        // Once released, the connection is available again.
        try await client.ping()
        await client.close()
    }

    @Test func waiterGetsTheReleasedConnection() async throws {
        let client = try await TestDatabase.client(poolSize: 1, acquireTimeout: .seconds(5))
        async let held: Void = client.withConnection { connection in
            _ = try await connection.query("SELECT pg_sleep(0.2)")
        }
        try await Task.sleep(for: .milliseconds(50))
        let rows = try await client.query("SELECT 7")
        #expect(try rows.first?.decode(Int.self, at: 0) == 7)
        try await held
        await client.close()
    }

    @Test func twoHundredConcurrentTasksThroughPoolOfEight() async throws {
        let client = try await TestDatabase.client(poolSize: 8, acquireTimeout: .seconds(30))
        let sum = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<200 {
                group.addTask {
                    let rows = try await client.query("SELECT $1::int8 * 2, pg_backend_pid()", [.int(Int64(i))])
                    return try rows.first!.decode(Int.self, at: 0)
                }
            }
            var sum = 0
            for try await value in group { sum += value }
            return sum
        }
        #expect(sum == (0..<200).reduce(0) { $0 + $1 * 2 })
        #expect(client.openConnections <= 8)
        await client.close()
    }

    @Test func closedClientRejectsWork() async throws {
        let client = try await TestDatabase.client(poolSize: 1)
        await client.close()
        let error = await #expect(throws: PostgresError.self) { try await client.ping() }
        #expect(error?.code == .closed)
    }
}
