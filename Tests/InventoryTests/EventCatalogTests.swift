import Foundation
import Postgres
import PostgresTestSupport
import Testing
@testable import Inventory

@Suite("Event catalog against PostgreSQL") struct EventCatalogTests {
    private func withCatalog(_ body: (EventCatalog, PostgresClient) async throws -> Void) async throws {
        try await TestDatabase.withSchema { client, _ in
            _ = try await Migrator(client: client, migrations: InventoryMigrations.all, logger: TestDatabase.logger).migrate()
            try await body(EventCatalog(database: client), client)
        }
    }

    @Test func createThenUpdateThenRead() async throws {
        try await withCatalog { catalog, _ in
            var event = EventDefinition.demo
            event.opensAt = Date(timeIntervalSince1970: 1_800_000_000)
            let r1 = try await catalog.upsert(event)
            #expect(r1 == .created)
            let r2 = try await catalog.event(id: "demo")
            #expect(r2 == event)

            event.name = "Renamed"
            event.ticketClasses[0].capacity += 100
            event.admission.ratePerSecond = 12.5
            let r3 = try await catalog.upsert(event)
            #expect(r3 == .updated)
            let r4 = try await catalog.event(id: "demo")
            #expect(r4 == event)
            let r5 = try await catalog.event(id: "nope")
            #expect(r5 == nil)
        }
    }

    @Test func capacityCannotShrinkBelowHeldAndSold() async throws {
        try await withCatalog { catalog, client in
            var event = EventDefinition.demo
            let r6 = try await catalog.upsert(event)
            #expect(r6 == .created)
            _ = try await client.query("UPDATE ticket_classes SET held = 30, sold = 20 WHERE event_id = $1 AND id = 'ga'",
                                       [.string(event.id)])
            event.ticketClasses[0].capacity = 49
            await #expect(throws: InventoryError.self) { _ = try await catalog.upsert(event) }
            // Nothing changed: not the class, and not the event row of the same transaction.
            event.name = "should not land"
            let stored = try #require(try await catalog.event(id: event.id))
            #expect(stored.ticketClasses[0].capacity == EventDefinition.demo.ticketClasses[0].capacity)
            #expect(stored.name == EventDefinition.demo.name)

            event.ticketClasses[0].capacity = 50   // exactly held + sold is allowed
            let r7 = try await catalog.upsert(event)
            #expect(r7 == .updated)
        }
    }

    @Test func invalidEventIsRefusedBeforeTheDatabase() async throws {
        try await withCatalog { catalog, _ in
            var event = EventDefinition.demo
            event.admission.maxActive = 0
            await #expect(throws: InventoryError.self) { _ = try await catalog.upsert(event) }
            let r8 = try await catalog.event(id: event.id)
            #expect(r8 == nil)
        }
    }

    @Test func theStockCheckIsInTheSchema() async throws {
        try await withCatalog { catalog, client in
            let r9 = try await catalog.upsert(.demo)
            #expect(r9 == .created)
            do {
                _ = try await client.query("UPDATE ticket_classes SET held = capacity + 1 WHERE event_id = 'demo'")
                Issue.record("oversell accepted by the schema")
            } catch let error as PostgresError {
                #expect(error.isCheckViolation)
                #expect(error.constraint == "ticket_classes_stock")
            }
        }
    }
}

@Suite("Assigned seating in the catalog") struct SeatingCatalogTests {
    @Test func seatsFollowTheLayoutAndAReservedSeatCannotBeRemoved() async throws {
        try await TestDatabase.withSchema { client, _ in
            _ = try await Migrator(client: client, migrations: InventoryMigrations.all, logger: TestDatabase.logger).migrate()
            let catalog = EventCatalog(database: client)
            var event = EventDefinition(id: "hall", name: "Hall", ticketClasses: [
                .init(id: "stalls", name: "Stalls", capacity: 4, priceCents: 100, seating: [.init(row: "A", seats: 2), .init(row: "B", seats: 2)]),
            ], admission: .init(ratePerSecond: 1, maxActive: 10, sessionSeconds: 60))
            #expect(try await catalog.upsert(event) == .created)
            #expect(try await catalog.event(id: "hall") == event)
            let seats = { try await client.query("SELECT id FROM seats ORDER BY seat_order").map { try $0.decode(String.self, at: 0) } }
            #expect(try await seats() == ["A-1", "A-2", "B-1", "B-2"])

            // Grow: a row more, and a seat more in row A.
            event.ticketClasses[0].seating = [.init(row: "A", seats: 3), .init(row: "B", seats: 2), .init(row: "C", seats: 1)]
            event.ticketClasses[0].capacity = 6
            #expect(try await catalog.upsert(event) == .updated)
            #expect(try await seats() == ["A-1", "A-2", "A-3", "B-1", "B-2", "C-1"])

            // A capacity that does not match the seats is refused before the database.
            event.ticketClasses[0].capacity = 7
            await #expect(throws: InventoryError.self) { _ = try await catalog.upsert(event) }
            event.ticketClasses[0].capacity = 6

            // Hold C-1, then try to remove row C: 409-style refusal, nothing changed.
            let service = ReservationService(database: client, logger: TestDatabase.logger)
            var held: [String] = []
            for holder in 0..<6 where !held.contains("C-1") {
                let r = try await service.reserve(eventID: "hall", holder: Int64(holder),
                                                  items: [.init(ticketClassId: "stalls", quantity: 1)], idempotencyKey: "k")
                held += r.body?.items?.first?.seats ?? []
            }
            #expect(held.contains("C-1"))
            var shrunk = event
            shrunk.ticketClasses[0].seating = [.init(row: "A", seats: 3), .init(row: "B", seats: 2)]
            shrunk.ticketClasses[0].capacity = 5
            do {
                _ = try await catalog.upsert(shrunk)
                Issue.record("removed a reserved seat")
            } catch let error as InventoryError {
                #expect(error.code == .capacityBelowCommitted)
            }
            #expect(try await seats().count == 6)
            let report = try await InventoryChecker(database: client).check()
            #expect(report.violations == [])
        }
    }
}
