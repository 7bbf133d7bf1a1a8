import Foundation
import Postgres
import PostgresTestSupport
import Synchronization
import Testing
@testable import Inventory

/// Reservations against a real PostgreSQL, each test in its own schema.
@Suite("Reservations against PostgreSQL") struct ReservationServiceTests {
    static func event(_ id: String = "show", classes: [EventDefinition.TicketClass]) -> EventDefinition {
        EventDefinition(id: id, name: "Show", ticketClasses: classes,
                        admission: .init(ratePerSecond: 10, maxActive: 100, sessionSeconds: 600))
    }

    /// Where a service's batches go: its pool, one at a time; or its pipelined sessions (the
    /// lock timeout a session setting, the call prepared).
    enum Batches: String, CaseIterable, Sendable { case pool, lanes }

    /// A migrated schema with `event` defined, and `processes` services on it (each with its own
    /// pool, as separate server processes would have).
    private func withInventory(
        _ event: EventDefinition, pipelined: Bool, configuration: ReservationConfiguration = .init(), processes: Int = 1,
        soldOut: @escaping @Sendable (String) async -> Void = { _ in },
        _ body: ([ReservationService], PostgresClient) async throws -> Void
    ) async throws {
        try await withInventory(event, batches: pipelined ? .lanes : .pool, configuration: configuration, processes: processes,
                                soldOut: soldOut, body)
    }

    private func withInventory(
        _ event: EventDefinition, batches: Batches, configuration: ReservationConfiguration = .init(), processes: Int = 1,
        soldOut: @escaping @Sendable (String) async -> Void = { _ in },
        _ body: ([ReservationService], PostgresClient) async throws -> Void
    ) async throws {
        try await TestDatabase.withSchema(poolSize: 4) { client, schema in
            _ = try await Migrator(client: client, migrations: InventoryMigrations.all, logger: TestDatabase.logger).migrate()
            _ = try await EventCatalog(database: client).upsert(event)
            var clients = [client]
            for _ in 1..<processes { clients.append(try await TestDatabase.client(poolSize: 4, schema: schema)) }
            // Pipelined: each service with two sessions of its own (as a worker has its lanes).
            let services = clients.map {
                ReservationService(database: $0, pipelined: batches == .lanes ? $0.configuration : nil, lanes: 2,
                                   configuration: configuration, logger: TestDatabase.logger, soldOut: soldOut)
            }
            func closeAll() async {
                for service in services { service.close() }
                for c in clients.dropFirst() { await c.close() }
            }
            do {
                try await body(services, client)
            } catch {
                await closeAll()
                throw error
            }
            await closeAll()
        }
    }

    private func expectConsistent(_ client: PostgresClient, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let report = try await InventoryChecker(database: client).check()
        #expect(report.violations == [], sourceLocation: sourceLocation)
    }

    private func stock(_ client: PostgresClient, _ event: String = "show") async throws -> [String: EventCatalog.Stock] {
        Dictionary(uniqueKeysWithValues: try await EventCatalog(database: client).stock(eventID: event).map { ($0.id, $0) })
    }

    @Test(arguments: Batches.allCases) func twoHundredConcurrentClientsHoldExactlyTheCapacity(batches: Batches) async throws {
        let event = Self.event(classes: [.init(id: "ga", name: "GA", capacity: 1_000, priceCents: 5_000)])
        try await withInventory(event, batches: batches, configuration: .init(ticketsPerAdmission: 1_000), processes: 2) { services, client in
            let outcomes = try await withThrowingTaskGroup(of: (held: Int, refusals: [String]).self) { group in
                for clientIndex in 0..<200 {
                    let service = services[clientIndex % services.count]
                    group.addTask {
                        var held = 0
                        var refusals: [String] = []
                        var quantity = Int.random(in: 1...3)
                        var n = 0
                        while true {
                            n += 1
                            let outcome = try await service.reserve(
                                eventID: "show", holder: Int64(clientIndex),
                                items: [.init(ticketClassId: "ga", quantity: quantity)], idempotencyKey: "k\(n)")
                            if outcome.status == 201 {
                                held += quantity
                                quantity = Int.random(in: 1...3)
                            } else {
                                refusals.append("\(outcome.status) \(outcome.error ?? "")")
                                if quantity == 1 { break }
                                quantity = 1
                            }
                        }
                        return (held, refusals)
                    }
                }
                var all: [(held: Int, refusals: [String])] = []
                for try await o in group { all.append(o) }
                return all
            }
            #expect(outcomes.reduce(0) { $0 + $1.held } == 1_000)
            #expect(Set(outcomes.flatMap(\.refusals)) == ["409 insufficient_inventory"])
            #expect(outcomes.allSatisfy { $0.refusals.last == "409 insufficient_inventory" })
            let ga = try #require(try await stock(client)["ga"])
            #expect(ga.held == 1_000)
            #expect(ga.sold == 0)
            let count = try await client.query("SELECT sum(quantity) FROM reservation_items").first?.decode(Int.self, at: 0)
            #expect(count == 1_000)
            try await expectConsistent(client)
        }
    }

    @Test(arguments: [false, true]) func releaseGivesTicketsBackAndConfirmWritesTheOrderRequest(pipelined: Bool) async throws {
        let event = Self.event(classes: [.init(id: "ga", name: "GA", capacity: 10, priceCents: 2_500)])
        try await withInventory(event, pipelined: pipelined) { services, client in
            let service = services[0]
            let a = try await service.reserve(eventID: "show", holder: 1, items: [.init(ticketClassId: "ga", quantity: 4)], idempotencyKey: "a")
            #expect(a.status == 201)
            #expect(a.body?.status == "held")
            #expect(a.body?.items == [.init(ticketClassId: "ga", quantity: 4, seats: nil)])
            let aID = try #require(a.body?.reservationId)
            #expect(try await stock(client)["ga"]?.held == 4)

            let released = try await service.release(reservationID: aID, eventID: "show", holder: 1)
            #expect(released.status == 204)
            #expect(try await stock(client)["ga"]?.held == 0)
            let again = try await service.release(reservationID: aID, eventID: "show", holder: 1)
            #expect(again.status == 204)
            let view = try await service.reservation(id: aID, eventID: "show", holder: 1)
            #expect(view?.status == "released")
            let lateConfirm = try await service.confirm(reservationID: aID, eventID: "show", holder: 1,
                                                        payment: .init(method: "card"), idempotencyKey: "c0")
            #expect(lateConfirm.status == 409)
            #expect(lateConfirm.error == "reservation_released")

            let b = try await service.reserve(eventID: "show", holder: 1, items: [.init(ticketClassId: "ga", quantity: 3)], idempotencyKey: "b")
            let bID = try #require(b.body?.reservationId)
            // Another admission cannot see, release or confirm it.
            #expect(try await service.reservation(id: bID, eventID: "show", holder: 2) == nil)
            #expect(try await service.release(reservationID: bID, eventID: "show", holder: 2).status == 404)
            #expect(try await service.reservation(id: bID, eventID: "other", holder: 1) == nil)

            let confirmed = try await service.confirm(reservationID: bID, eventID: "show", holder: 1,
                                                      payment: .init(method: "card", simulate: "approve"), idempotencyKey: "c1")
            #expect(confirmed.status == 202)
            #expect(confirmed.body?.status == "pending")
            let orderID = try #require(confirmed.body?.orderId)
            let order = try #require(try await client.query(
                "SELECT reservation_id, status, amount_cents, payment_method, simulate FROM orders WHERE id = $1", [.string(orderID)]).first)
            #expect(try order.decode(String.self, at: 0) == bID)
            #expect(try order.decode(String.self, at: 1) == "pending")
            #expect(try order.decode(Int.self, at: 2) == 7_500)
            #expect(try order.decode(String?.self, at: 4) == "approve")
            let ga = try #require(try await stock(client)["ga"])
            #expect(ga.held == 0 && ga.sold == 3)
            #expect(try await service.reservation(id: bID, eventID: "show", holder: 1)?.orderId == orderID)

            let cannotRelease = try await service.release(reservationID: bID, eventID: "show", holder: 1)
            #expect(cannotRelease.status == 409)
            #expect(cannotRelease.error == "reservation_confirmed")
            // Confirming again with a new key names the same order, with no second one.
            let twice = try await service.confirm(reservationID: bID, eventID: "show", holder: 1,
                                                  payment: .init(method: "card"), idempotencyKey: "c2")
            #expect(twice.status == 202 && twice.body?.orderId == orderID)
            #expect(try await client.query("SELECT count(*) FROM orders").first?.decode(Int.self, at: 0) == 1)
            try await expectConsistent(client)
        }
    }

    @Test(arguments: [false, true]) func expiryByTheDatabaseClockReturnsStockAndLateConfirmIsRefused(pipelined: Bool) async throws {
        let event = Self.event(classes: [.init(id: "ga", name: "GA", capacity: 10, priceCents: 100)])
        try await withInventory(event, pipelined: pipelined, configuration: .init(holdSeconds: 1)) { services, client in
            let service = services[0]
            let swept = try await service.reserve(eventID: "show", holder: 1, items: [.init(ticketClassId: "ga", quantity: 2)], idempotencyKey: "a")
            let late = try await service.reserve(eventID: "show", holder: 2, items: [.init(ticketClassId: "ga", quantity: 5)], idempotencyKey: "a")
            #expect(try await stock(client)["ga"]?.held == 7)
            try await Task.sleep(for: .milliseconds(1_300))
            #expect(try await service.reservation(id: swept.body!.reservationId!, eventID: "show", holder: 1)?.status == "expired")

            // Confirm after expiry, before any sweep: refused under the lock, and the stock comes back.
            let confirm = try await service.confirm(reservationID: late.body!.reservationId!, eventID: "show", holder: 2,
                                                    payment: .init(method: "card"), idempotencyKey: "c")
            #expect(confirm.status == 409)
            #expect(confirm.error == "reservation_expired")
            #expect(try await stock(client)["ga"]?.held == 2)

            let sweeper = HoldSweeper(database: client, configuration: service.configuration, logger: TestDatabase.logger)
            #expect(try await sweeper.sweepOnce() == 1)
            #expect(try await sweeper.sweepOnce() == 0)
            #expect(try await stock(client)["ga"]?.held == 0)
            let status = try await client.query("SELECT status FROM reservations WHERE id = $1", [.string(swept.body!.reservationId!)])
            #expect(try status.first?.decode(String.self, at: 0) == "expired")
            let tooLate = try await service.confirm(reservationID: swept.body!.reservationId!, eventID: "show", holder: 1,
                                                    payment: .init(method: "card"), idempotencyKey: "c")
            #expect(tooLate.error == "reservation_expired")
            try await expectConsistent(client)
        }
    }

    @Test(arguments: [false, true]) func anIdempotentRetryGetsTheFirstOutcomeAndNeverASecondHold(pipelined: Bool) async throws {
        let event = Self.event(classes: [.init(id: "ga", name: "GA", capacity: 10, priceCents: 100)])
        try await withInventory(event, pipelined: pipelined, processes: 2) { services, client in
            let items = [ReservationItem(ticketClassId: "ga", quantity: 2)]
            // The same request sent at once through two processes, and again later.
            async let x = services[0].reserve(eventID: "show", holder: 9, items: items, idempotencyKey: "same")
            async let y = services[1].reserve(eventID: "show", holder: 9, items: items, idempotencyKey: "same")
            let (first, second) = try await (x, y)
            let third = try await services[0].reserve(eventID: "show", holder: 9, items: items, idempotencyKey: "same")
            #expect(first.status == 201 && second.status == 201 && third.status == 201)
            #expect(first.body == second.body)
            #expect(first.body == third.body)
            #expect([first.replayed, second.replayed].compactMap { $0 } == [true])
            #expect(third.replayed == true)
            #expect(try await stock(client)["ga"]?.held == 2)

            let reused = try await services[1].reserve(eventID: "show", holder: 9, items: [.init(ticketClassId: "ga", quantity: 1)],
                                                       idempotencyKey: "same")
            #expect(reused.status == 422)
            #expect(reused.error == "idempotency_key_reused")
            // Keys belong to their admission: another one may use the same key.
            let other = try await services[0].reserve(eventID: "show", holder: 10, items: items, idempotencyKey: "same")
            #expect(other.status == 201 && other.body?.reservationId != first.body?.reservationId)

            // A refusal is an outcome too: replayed, even once stock is back.
            let big = try await services[0].reserve(eventID: "show", holder: 11, items: [.init(ticketClassId: "ga", quantity: 8)],
                                                    idempotencyKey: "big")
            #expect(big.error == "insufficient_inventory")
            _ = try await services[0].release(reservationID: other.body!.reservationId!, eventID: "show", holder: 10)
            let bigAgain = try await services[1].reserve(eventID: "show", holder: 11, items: [.init(ticketClassId: "ga", quantity: 8)],
                                                         idempotencyKey: "big")
            #expect(bigAgain.error == "insufficient_inventory" && bigAgain.replayed == true)

            let id = try #require(first.body?.reservationId)
            let c1 = try await services[0].confirm(reservationID: id, eventID: "show", holder: 9, payment: .init(method: "card"), idempotencyKey: "pay")
            let c2 = try await services[1].confirm(reservationID: id, eventID: "show", holder: 9, payment: .init(method: "card"), idempotencyKey: "pay")
            #expect(c1.body == c2.body && c2.replayed == true)
            let c3 = try await services[1].confirm(reservationID: id, eventID: "show", holder: 9,
                                                   payment: .init(method: "card", simulate: "decline"), idempotencyKey: "pay")
            #expect(c3.error == "idempotency_key_reused")
            try await expectConsistent(client)
        }
    }

    @Test(arguments: [false, true]) func multiClassReservationsUnderContentionNeverDeadlock(pipelined: Bool) async throws {
        let classes = ["a", "b", "c", "d"].map { EventDefinition.TicketClass(id: $0, name: $0, capacity: 150, priceCents: 100) }
        try await withInventory(Self.event(classes: classes), pipelined: pipelined, configuration: .init(ticketsPerAdmission: 0), processes: 3) { services, client in
            let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
                for i in 0..<120 {
                    let service = services[i % services.count]
                    group.addTask {
                        var statuses: [Int] = []
                        for n in 0..<8 {
                            // A random subset, in a random order: the service sorts it into lock order.
                            let picked = ["a", "b", "c", "d"].filter { _ in Bool.random() }.shuffled()
                            let items = (picked.isEmpty ? ["d", "a"] : picked).map { ReservationItem(ticketClassId: $0, quantity: Int.random(in: 1...2)) }
                            let r = try await service.reserve(eventID: "show", holder: Int64(i), items: items, idempotencyKey: "k\(n)")
                            statuses.append(r.status)
                            if r.status == 201, Bool.random() {
                                let rel = try await service.release(reservationID: r.body!.reservationId!, eventID: "show", holder: Int64(i))
                                statuses.append(rel.status)
                            }
                        }
                        return statuses
                    }
                }
                var all: [Int] = []
                for try await s in group { all += s }
                return all
            }
            #expect(Set(statuses).isSubset(of: [201, 204, 409]))
            #expect(statuses.contains(201))
            try await expectConsistent(client)
        }
    }

    @Test(arguments: [false, true]) func seatsAreHeldRowByRowAndNeverTwice(pipelined: Bool) async throws {
        let seated = EventDefinition.TicketClass(id: "stalls", name: "Stalls", capacity: 60, priceCents: 9_000,
                                                 seating: [.init(row: "A", seats: 20), .init(row: "B", seats: 20), .init(row: "C", seats: 20)])
        try await withInventory(Self.event(classes: [seated]), pipelined: pipelined, processes: 2) { services, client in
            let results = try await withThrowingTaskGroup(of: InventoryOutcome.self) { group in
                for i in 0..<50 {
                    group.addTask {
                        try await services[i % 2].reserve(eventID: "show", holder: Int64(i),
                                                          items: [.init(ticketClassId: "stalls", quantity: 2)], idempotencyKey: "k")
                    }
                }
                var all: [InventoryOutcome] = []
                for try await r in group { all.append(r) }
                return all
            }
            let held = results.filter { $0.status == 201 }
            #expect(held.count == 30)
            #expect(results.filter { $0.status == 409 }.count == 20)
            let seats = held.flatMap { $0.body?.items?.first?.seats ?? [] }
            #expect(seats.count == 60)
            #expect(Set(seats).count == 60)
            #expect(try await stock(client)["stalls"]?.held == 60)
            try await expectConsistent(client)

            // A released hold's seats are free again; the partial unique index forbids a second live hold.
            let first = try #require(held.first?.body)
            let holder = try await client.query("SELECT holder FROM reservations WHERE id = $1", [.string(first.reservationId!)])
                .first!.decode(Int64.self, at: 0)
            #expect(try await services[0].release(reservationID: first.reservationId!, eventID: "show", holder: holder).status == 204)
            let again = try await services[1].reserve(eventID: "show", holder: 1_000, items: [.init(ticketClassId: "stalls", quantity: 2)],
                                                      idempotencyKey: "k")
            #expect(Set(again.body?.items?.first?.seats ?? []) == Set(first.items!.first!.seats!))
            let busySeat = try #require(again.body?.items?.first?.seats?.first)
            await #expect(throws: PostgresError.self) {
                _ = try await client.query("""
                    INSERT INTO reservation_seats (reservation_id, event_id, ticket_class_id, seat_id)
                    VALUES ($1, 'show', 'stalls', $2)
                    """, [.string(first.reservationId!), .string(busySeat)])
            }
            try await expectConsistent(client)
        }
    }

    @Test(arguments: [false, true]) func ticketLimitPerAdmissionCountsHeldAndConfirmed(pipelined: Bool) async throws {
        let classes = [EventDefinition.TicketClass(id: "ga", name: "GA", capacity: 100, priceCents: 1),
                       EventDefinition.TicketClass(id: "vip", name: "VIP", capacity: 100, priceCents: 1)]
        try await withInventory(Self.event(classes: classes), pipelined: pipelined, configuration: .init(ticketsPerAdmission: 4)) { services, client in
            let s = services[0]
            let a = try await s.reserve(eventID: "show", holder: 1, items: [.init(ticketClassId: "ga", quantity: 3)], idempotencyKey: "1")
            #expect(a.status == 201)
            let b = try await s.reserve(eventID: "show", holder: 1, items: [.init(ticketClassId: "vip", quantity: 2)], idempotencyKey: "2")
            #expect(b.status == 409 && b.error == "ticket_limit_exceeded")
            let c = try await s.reserve(eventID: "show", holder: 1, items: [.init(ticketClassId: "vip", quantity: 1)], idempotencyKey: "3")
            #expect(c.status == 201)
            _ = try await s.release(reservationID: a.body!.reservationId!, eventID: "show", holder: 1)
            let d = try await s.reserve(eventID: "show", holder: 1, items: [.init(ticketClassId: "ga", quantity: 3)], idempotencyKey: "4")
            #expect(d.status == 201)
            let unknown = try await s.reserve(eventID: "show", holder: 2, items: [.init(ticketClassId: "balcony", quantity: 1)], idempotencyKey: "5")
            #expect(unknown.status == 422 && unknown.error == "invalid_items")
            await #expect(throws: InventoryError.self) {
                _ = try await s.reserve(eventID: "show", holder: 2, items: [.init(ticketClassId: "ga", quantity: 5)], idempotencyKey: "6")
            }
            try await expectConsistent(client)
        }
    }

    @Test(arguments: [false, true]) func soldOutIsReportedOnceWhenNothingCanComeBack(pipelined: Bool) async throws {
        let reported = Mutex<[String]>([])
        let event = Self.event(classes: [.init(id: "ga", name: "GA", capacity: 3, priceCents: 1)])
        try await withInventory(event, pipelined: pipelined, soldOut: { e in reported.withLock { $0.append(e) } }) { services, client in
            let s = services[0]
            let a = try await s.reserve(eventID: "show", holder: 1, items: [.init(ticketClassId: "ga", quantity: 2)], idempotencyKey: "1")
            let b = try await s.reserve(eventID: "show", holder: 2, items: [.init(ticketClassId: "ga", quantity: 1)], idempotencyKey: "1")
            let none = try await s.reserve(eventID: "show", holder: 3, items: [.init(ticketClassId: "ga", quantity: 1)], idempotencyKey: "1")
            #expect(none.error == "insufficient_inventory")
            #expect(reported.withLock { $0 } == [])   // holds are live: they may come back
            _ = try await s.confirm(reservationID: a.body!.reservationId!, eventID: "show", holder: 1, payment: .init(method: "card"), idempotencyKey: "c")
            #expect(reported.withLock { $0 } == [])
            let confirmed = try await s.confirm(reservationID: b.body!.reservationId!, eventID: "show", holder: 2,
                                                payment: .init(method: "card"), idempotencyKey: "c")
            // Every ticket is sold, but both payments are open: a decline would give tickets back.
            #expect(reported.withLock { $0 } == [])
            _ = try await client.query("UPDATE orders SET status = 'completed' WHERE reservation_id = $1",
                                       [.string(a.body!.reservationId!)])
            await s.checkSoldOut(eventID: "show")
            #expect(reported.withLock { $0 } == [])   // b's payment is still open
            _ = try await client.query("UPDATE orders SET status = 'awaiting_payment' WHERE id = $1",
                                       [.string(confirmed.body!.orderId!)])
            await s.checkSoldOut(eventID: "show")
            #expect(reported.withLock { $0 } == [])
            _ = try await client.query("UPDATE orders SET status = 'completed' WHERE id = $1", [.string(confirmed.body!.orderId!)])
            await s.checkSoldOut(eventID: "show")
            #expect(reported.withLock { $0 } == ["show"])
            _ = try await s.reserve(eventID: "show", holder: 4, items: [.init(ticketClassId: "ga", quantity: 1)], idempotencyKey: "1")
            await s.checkSoldOut(eventID: "show")
            #expect(reported.withLock { $0 } == ["show"])   // once
            try await expectConsistent(client)
        }
    }

    /// Waits until some backend waits for a lock (a batch queued on the class row).
    private func untilABatchWaitsForItsLock(_ client: PostgresClient) async throws {
        for _ in 0..<250 {
            if try await client.query("SELECT count(*) FROM pg_locks WHERE NOT granted").first?.decode(Int.self, at: 0) ?? 0 > 0 { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("no batch waited for the class row")
    }

    /// An ordinary batch is decided before the class lock and its new holds written then; under
    /// the lock it finds what it read has changed (stock taken, a hold expired) and falls back to
    /// deciding under the lock, with its early writes undone: no oversell, no ticket returned twice.
    @Test(arguments: [false, true]) func aBatchDecidedBeforeTheLockIsCheckedUnderIt(pipelined: Bool) async throws {
        let event = Self.event(classes: [.init(id: "ga", name: "GA", capacity: 10, priceCents: 100)])
        try await withInventory(event, pipelined: pipelined) { services, client in
            let service = services[0]
            let first = try await service.reserve(eventID: "show", holder: 1, items: [.init(ticketClassId: "ga", quantity: 2)],
                                                  idempotencyKey: "a")
            let firstID = try #require(first.body?.reservationId)

            // Stock goes while the batch waits: it read 8 free, finds 1.
            let refusing = try await client.withTransaction { connection in
                _ = try await connection.query("SELECT 1 FROM ticket_classes WHERE id = 'ga' FOR UPDATE")
                let outcome = Task {
                    try await service.reserve(eventID: "show", holder: 2, items: [.init(ticketClassId: "ga", quantity: 3)],
                                              idempotencyKey: "b")
                }
                try await untilABatchWaitsForItsLock(client)
                _ = try await connection.query("UPDATE ticket_classes SET capacity = 3 WHERE id = 'ga'")
                return outcome
            }
            let refused = try await refusing.value
            #expect(refused.status == 409 && refused.error == "insufficient_inventory")
            #expect(try await client.query("SELECT count(*) FROM reservations WHERE holder = 2").first?.decode(Int.self, at: 0) == 0)
            #expect(try await stock(client)["ga"]?.held == 2)
            // The refusal is what the key stored, as ever.
            let replay = try await service.reserve(eventID: "show", holder: 2, items: [.init(ticketClassId: "ga", quantity: 3)],
                                                   idempotencyKey: "b")
            #expect(replay.error == "insufficient_inventory" && replay.replayed == true)
            try await expectConsistent(client)

            // The hold expires (as the sweeper would do it) while its release waits.
            let releasing = try await client.withTransaction { connection in
                _ = try await connection.query("SELECT 1 FROM ticket_classes WHERE id = 'ga' FOR UPDATE")
                let outcome = Task { try await service.release(reservationID: firstID, eventID: "show", holder: 1) }
                try await untilABatchWaitsForItsLock(client)
                _ = try await connection.query("UPDATE reservations SET status = 'expired' WHERE id = $1", [.string(firstID)])
                _ = try await connection.query("UPDATE ticket_classes SET held = held - 2 WHERE id = 'ga'")
                return outcome
            }
            let released = try await releasing.value
            #expect(released.status == 204)
            #expect(try await stock(client)["ga"]?.held == 0)
            #expect(try await service.reservation(id: firstID, eventID: "show", holder: 1)?.status == "expired")
            try await expectConsistent(client)

            // The ordinary path itself: reserves and releases in one go, another admission's hold is 404.
            _ = try await client.query("UPDATE ticket_classes SET capacity = 10 WHERE id = 'ga'")
            let c = try await service.reserve(eventID: "show", holder: 3, items: [.init(ticketClassId: "ga", quantity: 1)], idempotencyKey: "c")
            let cID = try #require(c.body?.reservationId)
            async let mine = service.release(reservationID: cID, eventID: "show", holder: 3)
            async let theirs = service.release(reservationID: cID, eventID: "show", holder: 4)
            async let more = service.reserve(eventID: "show", holder: 4, items: [.init(ticketClassId: "ga", quantity: 4)], idempotencyKey: "d")
            let (m, t, r) = try await (mine, theirs, more)
            #expect(m.status == 204 && t.status == 404 && r.status == 201)
            #expect(r.body?.items == [.init(ticketClassId: "ga", quantity: 4, seats: nil)])
            #expect(try await stock(client)["ga"]?.held == 4)
            try await expectConsistent(client)
        }
    }

    @Test(arguments: Batches.allCases) func aBatchThatCannotGetItsLockFailsFastWithLockTimeout(batches: Batches) async throws {
        let event = Self.event(classes: [.init(id: "ga", name: "GA", capacity: 10, priceCents: 1)])
        try await withInventory(event, batches: batches, configuration: .init(lockTimeout: .milliseconds(200))) { services, client in
            try await client.withTransaction { connection in
                _ = try await connection.query("SELECT 1 FROM ticket_classes WHERE id = 'ga' FOR UPDATE")
                let started = ContinuousClock.now
                do {
                    _ = try await services[0].reserve(eventID: "show", holder: 1, items: [.init(ticketClassId: "ga", quantity: 1)],
                                                      idempotencyKey: "k")
                    Issue.record("reserved while the class row was locked")
                } catch let error as PostgresError {
                    #expect(error.isLockTimeout)
                }
                #expect(ContinuousClock.now - started < .seconds(5))
            }
            // Nothing was held or stored under the key: the retry goes through.
            let retry = try await services[0].reserve(eventID: "show", holder: 1, items: [.init(ticketClassId: "ga", quantity: 1)],
                                                      idempotencyKey: "k")
            #expect(retry.status == 201 && retry.replayed == nil)
            try await expectConsistent(client)
        }
    }
}
