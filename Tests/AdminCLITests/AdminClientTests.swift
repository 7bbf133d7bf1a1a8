import Edge
import Foundation
import Inventory
import NIOPosix
import Postgres
import PostgresTestSupport
import Testing
@testable import AdminCLI
@testable import WaitroomApp

@Suite("The admin client against a real server") struct AdminClientTests {
    static let token = "client-test-admin-token-0123456789"

    /// A worker's routes (events, no queue) on 127.0.0.1 over real PostgreSQL.
    private func withServer(_ body: (String) async throws -> Void) async throws {
        try await TestDatabase.withSchema { client, _ in
            _ = try await Migrator(client: client, migrations: InventoryMigrations.all, logger: TestDatabase.logger).migrate()
            let configuration = try ServerConfiguration(environment: ["WAITROOM_ADMIN_TOKEN": Self.token], cores: 1)
            let server = EdgeServer(
                configuration: EdgeConfiguration(host: "127.0.0.1", port: 0, maxBodyBytes: 65_536, eventLoopCount: 1),
                router: WorkerApp.makeRouter(configuration: configuration, catalog: EventCatalog(database: client), queue: nil),
                eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: TestDatabase.logger)
            try await server.start()
            do {
                try await body("http://127.0.0.1:\(server.port!)")
            } catch {
                await server.shutdown()
                throw error
            }
            await server.shutdown()
        }
    }

    @Test func applyCreatesThenUpdatesAndGetReadsBack() async throws {
        try await withServer { server in
            let client = AdminClient(target: AdminTarget(server: server, token: Self.token))
            var file = try EventFile.parse(EventFileTests.yaml, format: .yaml, eventID: nil)
            let created = try await client.apply(eventID: file.eventID, file.body)
            // The server lists classes by id.
            var expected = file.definition
            expected.ticketClasses.sort { $0.id < $1.id }
            #expect(created.created && created.event == expected)
            file.body.admission.maxActive = 75
            let updated = try await client.apply(eventID: file.eventID, file.body)
            #expect(!updated.created && updated.event.admission.maxActive == 75)
            let read = try await client.event("spring")
            #expect(read.opensAt == Date(timeIntervalSince1970: 1_803_924_000) && read.admission.maxActive == 75)
            #expect(AdminText.applied(updated).hasPrefix("updated event 'spring' (HTTP 200)\n  name       Spring tour\n"))
        }
    }

    @Test func refusalsCarryTheAPIsCodeAndStatus() async throws {
        try await withServer { server in
            let wrong = AdminClient(target: AdminTarget(server: server, token: "not-the-token"))
            await #expect(throws: AdminError(.api(status: 401, code: "unauthorized"), "invalid admin token")) {
                _ = try await wrong.event("spring")
            }
            let client = AdminClient(target: AdminTarget(server: server, token: Self.token))
            await #expect(throws: AdminError(.api(status: 404, code: "event_not_found"), "no event 'missing'")) {
                _ = try await client.event("missing")
            }
            let error = AdminError(.api(status: 401, code: "unauthorized"), "invalid admin token")
            #expect(error.description == "unauthorized (HTTP 401): invalid admin token" && error.exitCode == 1)
        }
    }

    @Test func anUnreachableServerIsSaidPlainly() async throws {
        // Nothing listens on port 1 of the loopback address.
        let client = AdminClient(target: AdminTarget(server: "http://127.0.0.1:1", token: "t"), timeout: .seconds(2))
        do {
            _ = try await client.stats("demo")
            Issue.record("an answer from port 1")
        } catch {
            #expect(error == AdminError(.unreachable, "cannot reach http://127.0.0.1:1: Connection refused"))
            #expect(error.exitCode == 3 && error.isTransient)
        }
    }

    @Test func aBodyOutsideTheErrorShapeIsQuoted() {
        #expect(AdminClient.refusal(status: 502, body: Array("<html>Bad gateway</html>".utf8))
                == AdminError(.api(status: 502, code: "http_502"), "<html>Bad gateway</html>"))
        #expect(AdminClient.refusal(status: 503, body: []).isTransient)
    }
}
