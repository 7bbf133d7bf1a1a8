@testable import Postgres
import Testing

@Suite("PostgresConfiguration URL parsing")
struct PostgresConfigurationTests {
    @Test func parsesFullURL() throws {
        let c = try PostgresConfiguration(url: "postgres://app%40x:p%3Ass%2Fw@db.example.com:6543/my%20db?sslmode=require&application_name=edge&pool_size=16&acquire_timeout_ms=250&statement_timeout_ms=1500&lock_timeout_ms=100&connect_timeout=3")
        #expect(c.user == "app@x")
        #expect(c.password == "p:ss/w")
        #expect(c.host == "db.example.com")
        #expect(c.port == 6543)
        #expect(c.database == "my db")
        #expect(c.sslMode == "require")
        #expect(c.applicationName == "edge")
        #expect(c.poolSize == 16)
        #expect(c.acquireTimeout == .milliseconds(250))
        #expect(c.statementTimeout == .milliseconds(1500))
        #expect(c.lockTimeout == .milliseconds(100))
        #expect(c.connectTimeout == .seconds(3))
    }

    @Test func acceptsPostgresqlSchemeAndDefaults() throws {
        let c = try PostgresConfiguration(url: "postgresql://waitroom@localhost")
        #expect(c.user == "waitroom")
        #expect(c.password == nil)
        #expect(c.host == "localhost")
        #expect(c.port == 5432)
        #expect(c.database == "waitroom")  // libpq's rule: database defaults to the user name
        #expect(c.poolSize == 8)
    }

    @Test func parsesIPv6AndSocketHost() throws {
        let v6 = try PostgresConfiguration(url: "postgres://u@[::1]:5441/d")
        #expect(v6.host == "::1")
        #expect(v6.port == 5441)
        let socket = try PostgresConfiguration(url: "postgres://u@/d?host=%2Fvar%2Frun%2Fpostgresql")
        #expect(socket.host == "/var/run/postgresql")
    }

    @Test(arguments: [
        "mysql://u@h/d", "postgres://h/d", "postgres://u@h:notaport/d", "postgres://u@h:70000/d",
        "postgres://u@h/d?bogus=1", "postgres://u@h/d?pool_size=0", "postgres://u:%zz@h/d", "postgres://u@[::1/d",
    ])
    func rejectsInvalidURLs(url: String) {
        #expect {
            try PostgresConfiguration(url: url)
        } throws: { error in
            (error as? PostgresError)?.code == .invalidURL
        }
    }

    @Test func neverShowsThePassword() throws {
        let c = try PostgresConfiguration(url: "postgres://u:s3cr3t@h/d")
        #expect(!c.description.contains("s3cr3t"))
        #expect(!String(describing: c).contains("s3cr3t"))
        // Handed to libpq as its own keyword, not spliced into a connection string.
        let params = c.libpqParameters
        #expect(params.contains { $0.0 == "password" && $0.1 == "s3cr3t" })
        #expect(!params.contains { $0.0 != "password" && $0.1.contains("s3cr3t") })
    }

    @Test func sessionOptions() throws {
        var c = try PostgresConfiguration(url: "postgres://u@h/d?statement_timeout_ms=2000&lock_timeout_ms=50")
        c.searchPath = ["good_schema", "bad schema; DROP"]
        let options = try #require(c.libpqParameters.first { $0.0 == "options" }?.1)
        #expect(options.contains("-c statement_timeout=2000"))
        #expect(options.contains("-c lock_timeout=50"))
        #expect(options.contains("-c TimeZone=UTC"))
        #expect(options.contains("-c search_path=good_schema"))
        #expect(!options.contains("DROP"))
    }
}
