import Foundation
import Postgres
import PostgresTestSupport
import Synchronization
import Testing

/// Transactions pipelined on one session (``PostgresPipelineLane``), against a real server.
@Suite("Pipelined transactions against a real server")
struct PostgresPipelineLaneTests {
    static func lane() throws -> PostgresPipelineLane {
        var configuration = try TestDatabase.configuration(poolSize: 1)
        configuration.applicationName = "waitroom-tests-lane"
        return PostgresPipelineLane(configuration: configuration, logger: TestDatabase.logger)
    }

    @Test func manyTransactionsInFlightCommitInTheOrderSent() async throws {
        try await TestDatabase.withSchema { client, schema in
            _ = try await client.query("CREATE TABLE \(schema).log (n integer PRIMARY KEY, at bigint NOT NULL)")
            let lane = try Self.lane()
            defer { lane.close() }
            // Sent one after the other without waiting: each is one segment, all in flight at once.
            let count = 200
            let results = try await withThrowingTaskGroup(of: (Int, Int64).self) { group in
                for n in 0..<count {
                    group.addTask {
                        let rows = try await lane.transaction([
                            PostgresStatement("INSERT INTO \(schema).log VALUES ($1, (SELECT count(*) FROM \(schema).log))", [.int(Int64(n))]),
                            PostgresStatement("SELECT at FROM \(schema).log WHERE n = $1", [.int(Int64(n))]),
                        ])
                        #expect(rows.count == 2)
                        return (n, try rows[1].first!.decode(Int64.self, at: 0))
                    }
                    // Let the submissions reach the lane in order.
                    await Task.yield()
                }
                var all: [(Int, Int64)] = []
                for try await result in group { all.append(result) }
                return all
            }
            // Each saw the rows committed before it: the values are 0, 1, 2, … in commit order.
            #expect(Set(results.map(\.1)) == Set((0..<Int64(count))))
            let stored = try await client.query("SELECT count(*) FROM \(schema).log")
            #expect(try stored.first!.decode(Int64.self, at: 0) == Int64(count))
        }
    }

    @Test func aFailedStatementRollsBackItsOwnTransactionOnly() async throws {
        try await TestDatabase.withSchema { client, schema in
            _ = try await client.query("CREATE TABLE \(schema).t (n integer PRIMARY KEY)")
            let lane = try Self.lane()
            defer { lane.close() }
            async let first = lane.transaction([PostgresStatement("INSERT INTO \(schema).t VALUES (1)")])
            async let failing = lane.transaction([
                PostgresStatement("INSERT INTO \(schema).t VALUES (2)"),
                PostgresStatement("SELECT 1 / 0"),
                PostgresStatement("INSERT INTO \(schema).t VALUES (3)"),
            ])
            async let after = lane.transaction([PostgresStatement("INSERT INTO \(schema).t VALUES (4)")])
            _ = try await first
            do {
                _ = try await failing
                Issue.record("a division by zero committed")
            } catch let error as PostgresError {
                #expect(error.sqlState == "22012")
                #expect(error.statementIndex == 1)
            }
            _ = try await after
            let rows = try await client.query("SELECT n FROM \(schema).t ORDER BY n")
            #expect(try rows.map { try $0.decode(Int.self, at: 0) } == [1, 4])
        }
    }

    @Test func aLocalSettingLastsForItsTransactionOnly() async throws {
        let lane = try Self.lane()
        defer { lane.close() }
        let inside = try await lane.transaction([
            PostgresStatement("SELECT set_config('lock_timeout', '123ms', true)"),
            PostgresStatement("SELECT current_setting('lock_timeout')"),
        ])
        #expect(try inside[1].first!.decode(String.self, at: 0) == "123ms")
        let next = try await lane.transaction([PostgresStatement("SELECT current_setting('lock_timeout')")])
        #expect(try next[0].first!.decode(String.self, at: 0) != "123ms")
    }

    @Test func aKilledSessionFailsWhatWasInFlightAndTheNextTransactionConnectsAgain() async throws {
        let admin = try await TestDatabase.client(poolSize: 1)
        let lane = try Self.lane()
        defer { lane.close() }
        let pid = try await lane.transaction([PostgresStatement("SELECT pg_backend_pid()")])[0].first!.decode(Int.self, at: 0)
        // A transaction that runs until its session is terminated.
        async let slow = lane.transaction([PostgresStatement("SELECT pg_sleep(30)")])
        try await Task.sleep(for: .milliseconds(200))
        _ = try await admin.query("SELECT pg_terminate_backend($1::int, 5000)", [.int(Int64(pid))])
        do {
            _ = try await slow
            Issue.record("a transaction on a terminated session succeeded")
        } catch let error as PostgresError {
            #expect(error.isConnectionFailure || error.sqlState == "57P01", "\(error)")
        }
        let again = try await lane.transaction([PostgresStatement("SELECT pg_backend_pid()")])[0].first!.decode(Int.self, at: 0)
        #expect(again != pid)
        await admin.close()
    }

    @Test func aSessionClosedWhileIdleIsReplacedBeforeTheNextTransaction() async throws {
        let admin = try await TestDatabase.client(poolSize: 1)
        let lane = try Self.lane()
        defer { lane.close() }
        let pid = try await lane.transaction([PostgresStatement("SELECT pg_backend_pid()")])[0].first!.decode(Int.self, at: 0)
        _ = try await admin.query("SELECT pg_terminate_backend($1::int, 5000)", [.int(Int64(pid))])
        // Nothing was in flight: the next transaction goes through on a new session, no error.
        let again = try await lane.transaction([PostgresStatement("SELECT pg_backend_pid()")])[0].first!.decode(Int.self, at: 0)
        #expect(again != pid)
        await admin.close()
    }

    @Test func aPreparedStatementRunsPreparedOnEverySessionTheLaneOpens() async throws {
        let admin = try await TestDatabase.client(poolSize: 1)
        var configuration = try TestDatabase.configuration(poolSize: 1)
        configuration.applicationName = "waitroom-tests-lane"
        configuration.lockTimeout = .milliseconds(321)
        let sql = "SELECT $1::integer + 1, current_setting('lock_timeout'), pg_backend_pid()"
        let lane = PostgresPipelineLane(configuration: configuration, logger: TestDatabase.logger, prepared: [sql])
        defer { lane.close() }
        // The session knows the statement by name (pg_prepared_statements), and a transaction
        // with its SQL runs it with the parameters given; the session's lock timeout holds.
        func run(_ n: Int) async throws -> (sum: Int, timeout: String, pid: Int, prepared: [String]) {
            let rows = try await lane.transaction([
                PostgresStatement(sql, [.int(Int64(n))]),
                PostgresStatement("SELECT coalesce(string_agg(statement, ';'), '') FROM pg_prepared_statements"),
            ])
            let row = rows[0].first!
            return (try row.decode(Int.self, at: 0), try row.decode(String.self, at: 1), try row.decode(Int.self, at: 2),
                    try rows[1].first!.decode(String.self, at: 0).split(separator: ";").map(String.init))
        }
        let first = try await run(41)
        #expect(first.sum == 42 && first.timeout == "321ms")
        #expect(first.prepared == [sql])
        // A new session (the first one terminated) prepares it again before its first use.
        _ = try await admin.query("SELECT pg_terminate_backend($1::int, 5000)", [.int(Int64(first.pid))])
        let second = try await run(1)
        #expect(second.pid != first.pid)
        #expect(second.sum == 2 && second.timeout == "321ms" && second.prepared == [sql])
        await admin.close()
    }
}
