import Foundation
import Postgres
import PostgresTestSupport
import Testing

@Suite("Queries, parameters, errors")
struct PostgresQueryTests {
    @Test func parametersRoundTripEveryType() async throws {
        let client = try await TestDatabase.client()
        defer { Task { await client.close() } }
        let uuid = UUID()
        let date = Date(timeIntervalSince1970: 1_714_566_896.123456)
        let rows = try await client.query(
            """
            SELECT $1::text AS s, $2::int8 AS i, $3::int4 AS i32, $4::bool AS b, $5::float8 AS d,
                   $6::timestamptz AS t, $7::uuid AS u, $8::bytea AS bytes, $9::text AS n, $10::int8 AS big
            """,
            [.string("héllo 世界 🎟️"), 42.postgresValue, Int32(-7).postgresValue, true, 3.25,
             .date(date), .uuid(uuid), .bytes([0, 1, 0xFE, 0xFF]), .null, Int64.max.postgresValue])
        #expect(rows.count == 1)
        let row = try #require(rows.first)
        #expect(try row.decode(String.self, column: "s") == "héllo 世界 🎟️")
        #expect(try row.decode(Int.self, column: "i") == 42)
        #expect(try row.decode(Int32.self, column: "i32") == -7)
        #expect(try row.decode(Bool.self, column: "b") == true)
        #expect(try row.decode(Double.self, column: "d") == 3.25)
        let back = try row.decode(Date.self, column: "t")
        #expect(abs(back.timeIntervalSince1970 - date.timeIntervalSince1970) < 0.000002)
        #expect(try row.decode(UUID.self, column: "u") == uuid)
        #expect(try row.decode([UInt8].self, column: "bytes") == [0, 1, 0xFE, 0xFF])
        #expect(try row.decode(String?.self, column: "n") == nil)
        #expect(row.isNull(at: 8))
        #expect(try row.decode(Int64.self, column: "big") == Int64.max)
        #expect(throws: PostgresError.self) { try row.decode(String.self, column: "n") }
        #expect(throws: PostgresError.self) { try row.decode(Int.self, column: "missing") }
        #expect(rows.columns.map(\.name) == ["s", "i", "i32", "b", "d", "t", "u", "bytes", "n", "big"])
    }

    @Test func specialDoublesAndOptionals() async throws {
        let client = try await TestDatabase.client()
        defer { Task { await client.close() } }
        let nothing: Int? = nil
        let rows = try await client.query(
            "SELECT $1::float8, $2::float8, $3::int8, $4::text",
            [.double(.infinity), .double(-0.1), nothing.postgresValue, Optional("x").postgresValue])
        let row = try #require(rows.first)
        #expect(try row.decode(Double.self, at: 0) == .infinity)
        #expect(try row.decode(Double.self, at: 1) == -0.1)
        #expect(try row.decode(Int?.self, at: 2) == nil)
        #expect(try row.decode(String?.self, at: 3) == "x")
    }

    @Test func hostileStringIsDataNotSQL() async throws {
        try await TestDatabase.withSchema { client, _ in
            _ = try await client.query("CREATE TABLE victims (id serial PRIMARY KEY, name text NOT NULL)")
            let hostile = "x'; DROP TABLE victims; --"
            let inserted = try await client.query("INSERT INTO victims (name) VALUES ($1) RETURNING id", [.string(hostile)])
            #expect(inserted.affectedRows == 1)
            let rows = try await client.query("SELECT name FROM victims WHERE name = $1", [.string(hostile)])
            #expect(try rows.first?.decode(String.self, at: 0) == hostile)
            // The table survived.
            let count = try await client.query("SELECT count(*) FROM victims")
            #expect(try count.first?.decode(Int.self, at: 0) == 1)
        }
    }

    @Test func affectedRowsAndCommandTag() async throws {
        try await TestDatabase.withSchema { client, _ in
            _ = try await client.query("CREATE TABLE t (id int PRIMARY KEY)")
            let insert = try await client.query("INSERT INTO t SELECT generate_series(1, 5)")
            #expect(insert.affectedRows == 5)
            #expect(insert.commandTag == "INSERT 0 5")
            let update = try await client.query("UPDATE t SET id = id + 10 WHERE id > $1", [3])
            #expect(update.affectedRows == 2)
            let select = try await client.query("SELECT id FROM t ORDER BY id")
            #expect(try select.map { try $0.decode(Int.self, at: 0) } == [1, 2, 3, 14, 15])
        }
    }

    @Test func serverErrorsCarrySQLState() async throws {
        try await TestDatabase.withSchema { client, _ in
            _ = try await client.query("CREATE TABLE t (id int CONSTRAINT t_pk PRIMARY KEY, qty int CONSTRAINT qty_nonneg CHECK (qty >= 0))")
            _ = try await client.query("INSERT INTO t VALUES (1, 1)")

            let unique = await #expect(throws: PostgresError.self) {
                try await client.query("INSERT INTO t VALUES ($1, 1)", [1])
            }
            #expect(unique?.code == .server)
            #expect(unique?.sqlState == "23505")
            #expect(unique?.isUniqueViolation == true)
            #expect(unique?.constraint == "t_pk")
            #expect(unique?.detail?.contains("already exists") == true)

            let check = await #expect(throws: PostgresError.self) {
                try await client.query("UPDATE t SET qty = $1", [-1])
            }
            #expect(check?.isCheckViolation == true)
            #expect(check?.constraint == "qty_nonneg")

            let syntax = await #expect(throws: PostgresError.self) { try await client.query("SELEC 1") }
            #expect(syntax?.sqlState == "42601")

            // The pool is still healthy after errors.
            try await client.ping()
        }
    }

    @Test func unreachableServerFailsFast() async throws {
        var configuration = try PostgresConfiguration(url: "postgres://waitroom@127.0.0.1:1/nowhere")
        configuration.connectTimeout = .seconds(2)
        let client = PostgresClient(configuration: configuration, logger: TestDatabase.logger)
        let start = ContinuousClock.now
        let error = await #expect(throws: PostgresError.self) { try await client.ping() }
        #expect(error?.code == .unavailable)
        #expect(error?.sqlState == "08001")
        #expect(error?.isConnectionFailure == true)
        #expect(ContinuousClock.now - start < .seconds(3))
        #expect(client.openConnections == 0)
        await client.close()
    }
}
