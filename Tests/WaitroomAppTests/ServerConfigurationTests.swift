import Edge
import Testing
import Tokens
@testable import WaitroomApp

@Suite struct ServerConfigurationTests {
    @Test func defaultsFollowTheContract() throws {
        let c = try ServerConfiguration(environment: [:], cores: 2)
        #expect(c.host == "127.0.0.1" && c.port == 8080 && c.processes == 2)
        #expect(c.redisURL == "redis://127.0.0.1:6391")
        #expect(c.databaseURL.hasPrefix("postgres://"))
        #expect(c.adminToken == nil)
        #expect(c.signingKeyIsEphemeral)
        #expect(c.logLevel == .info)
        #expect(c.maxBodyBytes == 65536)
    }

    @Test func readsEveryVariable() throws {
        let key = SigningKeyring.random().configurationString
        let c = try ServerConfiguration(environment: [
            "WAITROOM_HOST": "0.0.0.0", "WAITROOM_PORT": "9000", "WAITROOM_PROCESSES": "4",
            "WAITROOM_REDIS_URL": "redis://10.1.2.3:6379/2", "WAITROOM_DATABASE_URL": "postgresql://u:p@db:5432/x",
            "WAITROOM_ADMIN_TOKEN": "0123456789abcdef-admin", "WAITROOM_SIGNING_KEY": key,
            "WAITROOM_LOG_LEVEL": "DEBUG",
        ], cores: 2)
        #expect(c.host == "0.0.0.0" && c.port == 9000 && c.processes == 4)
        #expect(c.redisURL == "redis://10.1.2.3:6379/2" && c.databaseURL == "postgresql://u:p@db:5432/x")
        #expect(c.adminToken == "0123456789abcdef-admin")
        #expect(!c.signingKeyIsEphemeral && c.signingKeys.configurationString == key)
        #expect(c.logLevel == .debug)
    }

    @Test(arguments: [
        ("WAITROOM_PORT", "http"), ("WAITROOM_PORT", "70000"), ("WAITROOM_PROCESSES", "0"),
        ("WAITROOM_REDIS_URL", "localhost:6379"), ("WAITROOM_REDIS_URL", "redis-cluster://10.0.0.1:7000/1"),
        ("WAITROOM_REDIS_URL", "redis://host:notaport"), ("WAITROOM_DATABASE_URL", "mysql://x"),
        ("WAITROOM_ADMIN_TOKEN", "short"), ("WAITROOM_SIGNING_KEY", "tooshort"), ("WAITROOM_LOG_LEVEL", "loud"),
    ])
    func rejectsBadValuesNamingTheVariable(key: String, value: String) {
        do {
            _ = try ServerConfiguration(environment: [key: value], cores: 1)
            Issue.record("accepted \(key)=\(value)")
        } catch {
            #expect(error.key == key)
        }
    }

    @Test func acceptsARedisClusterURL() throws {
        let url = "redis-cluster://10.0.0.1:7000,10.0.0.2:7000"
        #expect(try ServerConfiguration(environment: ["WAITROOM_REDIS_URL": url], cores: 1).redisURL == url)
    }

    @Test func connectionTimeoutsReachTheEdgeAndTheWorkers() throws {
        let defaults = try ServerConfiguration(environment: [:], cores: 1).edge
        #expect(defaults.headerTimeout == .seconds(10) && defaults.bodyTimeout == .seconds(30))
        #expect(defaults.bodyDeadline == .seconds(60) && defaults.idleTimeout == .seconds(60))
        let c = try ServerConfiguration(environment: [
            "WAITROOM_HEADER_TIMEOUT_SECONDS": "2.5", "WAITROOM_BODY_TIMEOUT_SECONDS": "1",
            "WAITROOM_BODY_DEADLINE_SECONDS": "4", "WAITROOM_IDLE_TIMEOUT_SECONDS": "7",
        ], cores: 1)
        let edge = c.edge
        #expect(edge.headerTimeout == .milliseconds(2500) && edge.bodyTimeout == .seconds(1))
        #expect(edge.bodyDeadline == .seconds(4) && edge.idleTimeout == .seconds(7))
        // Workers are started with the supervisor's values.
        let reread = try ServerConfiguration(environment: c.workerEnvironment(base: [:], workerIndex: 0), cores: 1).edge
        #expect(reread.headerTimeout == edge.headerTimeout && reread.bodyDeadline == edge.bodyDeadline)
        #expect(reread.bodyTimeout == edge.bodyTimeout && reread.idleTimeout == edge.idleTimeout)
        for bad in ["0", "-1", "soon", "100000"] {
            #expect(throws: ConfigurationError.self) {
                try ServerConfiguration(environment: ["WAITROOM_HEADER_TIMEOUT_SECONDS": bad], cores: 1)
            }
        }
    }

    @Test func workersShareOneSigningKey() throws {
        let c = try ServerConfiguration(environment: [:], cores: 2)
        let a = c.workerEnvironment(base: ["PATH": "/bin"], workerIndex: 0)
        let b = c.workerEnvironment(base: ["PATH": "/bin"], workerIndex: 1)
        #expect(a["WAITROOM_SIGNING_KEY"] == b["WAITROOM_SIGNING_KEY"])
        #expect(a["WAITROOM_SIGNING_KEY"] == c.signingKeys.configurationString)
        #expect(a["WAITROOM_WORKER_INDEX"] == "0" && b["WAITROOM_WORKER_INDEX"] == "1")
        #expect(a["PATH"] == "/bin")
        let reread = try ServerConfiguration(environment: a, cores: 8)
        #expect(!reread.signingKeyIsEphemeral && reread.processes == 2)
    }

    @Test func workersGetTheMallocConfigurationUnlessOneIsSet() throws {
        let c = try ServerConfiguration(environment: [:], cores: 2)
        #expect(c.workerEnvironment(base: [:], workerIndex: 0)["MALLOC_CONF"] == ServerConfiguration.workerMallocConfiguration)
        #expect(c.workerEnvironment(base: ["MALLOC_CONF": "narenas:1"], workerIndex: 0)["MALLOC_CONF"] == "narenas:1")
    }
}

@Suite struct JSONLogHandlerTests {
    @Test func quotesControlCharactersAndQuotes() {
        #expect(JSONLogHandler.quote("a\"b\\c\nd\u{1}") == #""a\"b\\c\nd\u0001""#)
    }

    @Test func timestampIsRFC3339UTCWithMilliseconds() {
        let ts = JSONLogHandler.timestamp()
        #expect(ts.count == 24 && ts.hasSuffix("Z") && ts.dropFirst(10).first == "T")
    }

    @Test func logFormatIsValidated() throws {
        #expect(try ServerConfiguration(environment: ["WAITROOM_LOG_FORMAT": "json"], cores: 1).logJSON)
        #expect(throws: ConfigurationError.self) { try ServerConfiguration(environment: ["WAITROOM_LOG_FORMAT": "xml"], cores: 1) }
    }
}

@Suite struct RFC3339Tests {
    @Test func formatsUTCWithAndWithoutMilliseconds() {
        #expect(RFC3339.string(milliseconds: 0) == "1970-01-01T00:00:00Z")
        #expect(RFC3339.string(milliseconds: 1_795_741_323_045) == "2026-11-27T01:02:03Z")
        #expect(RFC3339.string(milliseconds: 1_795_741_323_045, fraction: true) == "2026-11-27T01:02:03.045Z")
        #expect(RFC3339.string(milliseconds: 1_795_741_323_005, fraction: true) == "2026-11-27T01:02:03.005Z")
    }
}
