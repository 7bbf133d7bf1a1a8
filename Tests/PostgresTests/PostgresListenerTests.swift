import Postgres
import PostgresTestSupport
import Testing

@Suite("LISTEN/NOTIFY")
struct PostgresListenerTests {
    @Test func notificationIsDelivered() async throws {
        let client = try await TestDatabase.client(poolSize: 1)
        let listener = PostgresListener(configuration: try TestDatabase.configuration(), logger: TestDatabase.logger)
        let channel = TestDatabase.uniqueName("Chan")
        let stream = try await listener.listen(channel)
        try await client.notify(channel: channel, payload: "seat 12 'released'")
        let received = try await withTimeout(.seconds(10)) {
            var iterator = stream.makeAsyncIterator()
            return await iterator.next()
        }
        let notification = try #require(received)
        #expect(notification.channel == channel)
        #expect(notification.payload == "seat 12 'released'")
        #expect(notification.backendPID != 0)
        await listener.close()
        await client.close()
    }

    @Test func rejectsUnsafeChannelNames() async throws {
        let listener = PostgresListener(configuration: try TestDatabase.configuration(), logger: TestDatabase.logger)
        for bad in ["", "a b", "x\"; DROP TABLE t; --", String(repeating: "a", count: 64)] {
            let error = await #expect(throws: PostgresError.self) { try await listener.listen(bad) }
            #expect(error?.code == .invalidArgument)
        }
        await listener.close()
    }

    @Test func reconnectsAndListensAgainAfterLosingItsConnection() async throws {
        let client = try await TestDatabase.client(poolSize: 1)
        let listener = PostgresListener(configuration: try TestDatabase.configuration(), logger: TestDatabase.logger)
        let channel = TestDatabase.uniqueName("reconnect")
        let stream = try await listener.listen(channel)
        let oldPID = try #require(listener.backendPID)
        _ = try await client.query("SELECT pg_terminate_backend($1::int, 5000)", [oldPID.postgresValue])

        // Wait until the listener is back on a new session.
        let deadline = ContinuousClock.now + .seconds(15)
        while listener.reconnects == 0 || listener.backendPID == nil || listener.backendPID == oldPID {
            try #require(ContinuousClock.now < deadline, "listener did not reconnect")
            try await Task.sleep(for: .milliseconds(50))
        }
        // Its LISTEN is re-issued right after connecting; poll until it is active, then notify.
        let newPID = try #require(listener.backendPID)
        while try await client.query(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1::int AND query LIKE 'LISTEN%'", [newPID.postgresValue]
        ).first!.decode(Int.self, at: 0) == 0 {
            try #require(ContinuousClock.now < deadline, "listener did not LISTEN again")
            try await Task.sleep(for: .milliseconds(50))
        }
        try await client.notify(channel: channel, payload: "after")
        let received = try await withTimeout(.seconds(10)) {
            var iterator = stream.makeAsyncIterator()
            return await iterator.next()
        }
        #expect(received?.payload == "after")
        await listener.close()
        await client.close()
    }
}
