import Edge
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Inventory
import NIOPosix
import Postgres
import PostgresTestSupport
import Testing
import Tokens
@testable import WaitroomApp

/// The worker's routes through a real server on 127.0.0.1 and real PostgreSQL.
@Suite("Admin routes and the page, over HTTP") struct AdminRoutesTests {
    static let token = "test-admin-token-0123456789"

    private func withServer(_ body: (URL, PostgresClient) async throws -> Void) async throws {
        try await TestDatabase.withSchema { client, _ in
            _ = try await Migrator(client: client, migrations: InventoryMigrations.all, logger: TestDatabase.logger).migrate()
            var configuration = try ServerConfiguration(environment: ["WAITROOM_ADMIN_TOKEN": Self.token], cores: 1)
            configuration.port = 0
            let server = EdgeServer(
                configuration: EdgeConfiguration(host: "127.0.0.1", port: 0, maxBodyBytes: 4096, eventLoopCount: 1),
                router: WorkerApp.makeRouter(configuration: configuration, catalog: EventCatalog(database: client), queue: nil),
                eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: TestDatabase.logger)
            try await server.start()
            do {
                try await body(URL(string: "http://127.0.0.1:\(server.port!)")!, client)
            } catch {
                await server.shutdown()
                throw error
            }
            await server.shutdown()
        }
    }

    private func call(_ method: String, _ url: URL, token: String? = token, body: String? = nil) async throws -> (Int, [String: Any]?, String) {
        var request = URLRequest(url: url)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as! HTTPURLResponse).statusCode
        let text = String(decoding: data, as: UTF8.self)
        return (status, try? JSONSerialization.jsonObject(with: data) as? [String: Any], text)
    }

    private func errorCode(_ json: [String: Any]?) -> String? {
        (json?["error"] as? [String: Any])?["code"] as? String
    }

    static let eventJSON = """
        {"name": "Spring tour", "opensAt": "2027-03-01T18:00:00Z",
         "ticketClasses": [{"id": "ga", "name": "General", "capacity": 100, "priceCents": 5000}],
         "admission": {"ratePerSecond": 10, "maxActive": 50, "sessionSeconds": 300}}
        """

    @Test func putCreatesThenUpdates() async throws {
        try await withServer { base, _ in
            let url = base.appendingPathComponent("v1/admin/events/spring")
            let (created, json, _) = try await call("PUT", url, body: Self.eventJSON)
            #expect(created == 201)
            #expect(json?["name"] as? String == "Spring tour")
            // Times are RFC 3339 strings, as everywhere in the contract.
            #expect(json?["opensAt"] as? String == "2027-03-01T18:00:00Z")
            let (updated, _, _) = try await call("PUT", url, body: Self.eventJSON.replacingOccurrences(of: "100", with: "150"))
            #expect(updated == 200)
            let (got, read, _) = try await call("GET", url)
            #expect(got == 200)
            #expect(read?["opensAt"] as? String == "2027-03-01T18:00:00Z")
            let classes = read?["ticketClasses"] as? [[String: Any]]
            #expect(classes?.first?["capacity"] as? Int == 150)
        }
    }

    @Test func refusalsUseTheErrorShape() async throws {
        try await withServer { base, _ in
            let url = base.appendingPathComponent("v1/admin/events/spring")
            var r = try await call("PUT", url, token: nil, body: Self.eventJSON)
            #expect(r.0 == 401 && errorCode(r.1) == "unauthorized")
            r = try await call("PUT", url, token: "wrong-token-wrong-token", body: Self.eventJSON)
            #expect(r.0 == 401 && errorCode(r.1) == "unauthorized")
            r = try await call("PUT", url, body: "{not json")
            #expect(r.0 == 400 && errorCode(r.1) == "invalid_json")
            r = try await call("PUT", url, body: #"{"name": 5}"#)
            #expect(r.0 == 400 && errorCode(r.1) == "invalid_json")
            r = try await call("PUT", url, body: Self.eventJSON.replacingOccurrences(of: "\"maxActive\": 50", with: "\"maxActive\": 0"))
            #expect(r.0 == 422 && errorCode(r.1) == "invalid_event")
            r = try await call("PUT", url, body: Self.eventJSON.replacingOccurrences(of: "2027-03-01T18:00:00Z", with: "tomorrow"))
            #expect(r.0 == 422 && errorCode(r.1) == "invalid_event")
            r = try await call("PUT", base.appendingPathComponent("v1/admin/events/bad.id"), body: Self.eventJSON)
            #expect(r.0 == 400 && errorCode(r.1) == "invalid_id")
            r = try await call("PUT", url, body: String(repeating: " ", count: 5000) + Self.eventJSON)
            #expect(r.0 == 413)
            r = try await call("GET", base.appendingPathComponent("v1/admin/events/missing"))
            #expect(r.0 == 404 && errorCode(r.1) == "event_not_found")
            // Nothing of the refused calls landed.
            r = try await call("GET", url)
            #expect(r.0 == 404)
        }
    }

    @Test func shrinkingBelowCommittedIs409() async throws {
        try await withServer { base, client in
            let url = base.appendingPathComponent("v1/admin/events/spring")
            #expect(try await call("PUT", url, body: Self.eventJSON).0 == 201)
            _ = try await client.query("UPDATE ticket_classes SET held = 60, sold = 20 WHERE event_id = 'spring'")
            var r = try await call("PUT", url, body: Self.eventJSON.replacingOccurrences(of: "\"capacity\": 100", with: "\"capacity\": 79"))
            #expect(r.0 == 409 && errorCode(r.1) == "capacity_below_committed")
            r = try await call("PUT", url, body: Self.eventJSON.replacingOccurrences(of: "\"capacity\": 100", with: "\"capacity\": 80"))
            #expect(r.0 == 200)
        }
    }

    @Test func pageShowsTheEventEscaped() async throws {
        try await withServer { base, _ in
            let body = Self.eventJSON.replacingOccurrences(of: "Spring tour", with: "<script>alert(1)</script> & co")
            #expect(try await call("PUT", base.appendingPathComponent("v1/admin/events/spring"), body: body).0 == 201)
            let (status, _, html) = try await call("GET", base.appendingPathComponent("e/spring"), token: nil)
            #expect(status == 200)
            #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"))
            #expect(!html.contains("<script>alert(1)"))
            let missing = try await call("GET", base.appendingPathComponent("e/nothing-here"), token: nil)
            #expect(missing.0 == 404 && missing.2.contains("Event not found"))
        }
    }
}
