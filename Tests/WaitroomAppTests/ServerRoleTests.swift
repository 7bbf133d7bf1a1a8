import Testing
@testable import WaitroomApp

@Suite struct ServerRoleTests {
    @Test func defaultRoleRunsEverything() throws {
        let c = try ServerConfiguration(environment: [:], cores: 1)
        #expect(c.role == .all && c.role.runsEdge && c.role.runsSaga)
        #expect(c.paymentWebhookURL == nil)
    }

    @Test(arguments: [("edge", ServerRole.edge), ("SAGA", .saga), (" all ", .all), ("Edge", .edge)])
    func readsTheRole(text: String, role: ServerRole) throws {
        #expect(try ServerConfiguration(environment: ["WAITROOM_ROLE": text], cores: 1).role == role)
    }

    @Test func edgeAndSagaSplitTheWork() {
        #expect(ServerRole.edge.runsEdge && !ServerRole.edge.runsSaga)
        #expect(!ServerRole.saga.runsEdge && ServerRole.saga.runsSaga)
    }

    @Test(arguments: [("WAITROOM_ROLE", "worker"), ("WAITROOM_ROLE", "edge,saga"),
                      ("WAITROOM_PAYMENT_WEBHOOK_URL", "https://lb/v1/payments/webhook")])
    func rejectsBadValues(key: String, value: String) {
        let error = #expect(throws: ConfigurationError.self) { try ServerConfiguration(environment: [key: value], cores: 1) }
        #expect(error?.key == key)
    }

    @Test func workersInheritTheRoleAndWebhookURL() throws {
        let c = try ServerConfiguration(environment: [
            "WAITROOM_ROLE": "saga", "WAITROOM_PAYMENT_WEBHOOK_URL": "http://lb:8080/v1/payments/webhook",
        ], cores: 2)
        let env = c.workerEnvironment(base: [:], workerIndex: 0)
        #expect(env["WAITROOM_ROLE"] == "saga")
        let reread = try ServerConfiguration(environment: env, cores: 2)
        #expect(reread.role == .saga && reread.paymentWebhookURL == "http://lb:8080/v1/payments/webhook")
        let edge = try ServerConfiguration(environment: ["WAITROOM_ROLE": "edge"], cores: 1)
        #expect(edge.workerEnvironment(base: ["WAITROOM_ROLE": "saga"], workerIndex: 0)["WAITROOM_ROLE"] == "edge")
    }
}

@Suite struct TrustedProxiesTests {
    @Test func untrustedPeersAreTheClientWhateverTheyClaim() throws {
        let proxies = try TrustedProxies(configuration: "127.0.0.1, 10.0.0.5")
        #expect(proxies.clientAddress(peer: "192.0.2.9", forwardedFor: ["203.0.113.1"]) == "192.0.2.9")
        #expect(TrustedProxies.none.clientAddress(peer: "127.0.0.1", forwardedFor: ["203.0.113.1"]) == "127.0.0.1")
    }

    @Test func aTrustedProxyNamesTheClientByTheLastEntry() throws {
        let proxies = try TrustedProxies(configuration: "127.0.0.1,::1")
        // The client wrote the first entries itself; the proxy appended what it saw.
        #expect(proxies.clientAddress(peer: "127.0.0.1", forwardedFor: ["1.1.1.1, 198.51.100.7"]) == "198.51.100.7")
        #expect(proxies.clientAddress(peer: "::1", forwardedFor: ["1.1.1.1", "198.51.100.8"]) == "198.51.100.8")
        #expect(proxies.clientAddress(peer: "127.0.0.1", forwardedFor: []) == "127.0.0.1")
        #expect(proxies.clientAddress(peer: nil, forwardedFor: ["198.51.100.7"]) == "unknown")
    }

    @Test func starTrustsEveryPeer() throws {
        let proxies = try TrustedProxies(configuration: "*")
        #expect(proxies.trustsEveryPeer)
        #expect(proxies.clientAddress(peer: "10.9.8.7", forwardedFor: ["198.51.100.7"]) == "198.51.100.7")
    }

    @Test func configurationIsValidatedAndRoundTrips() throws {
        let error = #expect(throws: ConfigurationError.self) {
            try ServerConfiguration(environment: ["WAITROOM_TRUSTED_PROXIES": "lb.local"], cores: 1)
        }
        #expect(error?.key == "WAITROOM_TRUSTED_PROXIES")
        let c = try ServerConfiguration(environment: ["WAITROOM_TRUSTED_PROXIES": "127.0.0.1, *"], cores: 1)
        let env = c.workerEnvironment(base: [:], workerIndex: 0)
        #expect(try ServerConfiguration(environment: env, cores: 1).trustedProxies == c.trustedProxies)
        #expect(try ServerConfiguration(environment: [:], cores: 1).trustedProxies == .none)
    }
}
