import NIOCore
import Redis
import Testing

@Suite struct RedisConfigurationTests {
    @Test func parsesHostPortAndDatabase() throws {
        let configuration = try RedisConfiguration(url: "redis://10.0.0.5:6391/3")
        #expect(configuration.host == "10.0.0.5")
        #expect(configuration.port == 6391)
        #expect(configuration.database == 3)
        #expect(configuration.password == nil)
        #expect(configuration.username == nil)
        #expect(configuration.poolSize == 4)
    }

    @Test func defaultsPortAndDatabase() throws {
        let configuration = try RedisConfiguration(url: "redis://localhost")
        #expect(configuration.host == "localhost")
        #expect(configuration.port == 6379)
        #expect(configuration.database == 0)
        let trailingSlash = try RedisConfiguration(url: "redis://localhost:7000/")
        #expect(trailingSlash.port == 7000)
        #expect(trailingSlash.database == 0)
    }

    @Test func parsesCredentials() throws {
        let passwordOnly = try RedisConfiguration(url: "redis://:s3cr%40t@h:1/2")
        #expect(passwordOnly.username == nil)
        #expect(passwordOnly.password == "s3cr@t")
        #expect(passwordOnly.database == 2)
        let both = try RedisConfiguration(url: "redis://alice:pw@h:1")
        #expect(both.username == "alice")
        #expect(both.password == "pw")
    }

    @Test func parsesIPv6() throws {
        let configuration = try RedisConfiguration(url: "redis://[::1]:6390/1")
        #expect(configuration.host == "::1")
        #expect(configuration.port == 6390)
        #expect(configuration.database == 1)
    }

    @Test(arguments: [
        "http://localhost:6379", "redis://", "redis://:6379", "redis://host:notaport",
        "redis://host:0", "redis://host:70000", "redis://host:6379/x", "redis://host:6379/-1",
        "localhost:6379", "redis://[::1:6379",
    ])
    func rejectsBadURLs(url: String) {
        #expect {
            try RedisConfiguration(url: url)
        } throws: { error in
            (error as? RedisError)?.code == .invalidURL
        }
    }
}
