import Postgres
import PostgresTestSupport
import Synchronization
import Testing
@testable import Inventory

/// Combining a lock set's operations in one process of several: the owner's choice, the wire
/// format, and (against PostgreSQL) two services wired to each other as two workers are.
@Suite("Combining across processes") struct CombinerPeersTests {
    private static let never: CombinerPeers.Send = { _, _ in throw CancellationError() }

    /// A migrated schema with the event "show" of one class "ga" of `capacity` tickets.
    private static func withShow(capacity: Int, _ body: (PostgresClient, String) async throws -> Void) async throws {
        try await TestDatabase.withSchema(poolSize: 4) { client, schema in
            _ = try await Migrator(client: client, migrations: InventoryMigrations.all, logger: TestDatabase.logger).migrate()
            _ = try await EventCatalog(database: client).upsert(EventDefinition(
                id: "show", name: "Show", ticketClasses: [.init(id: "ga", name: "GA", capacity: capacity, priceCents: 100)],
                admission: .init(ratePerSecond: 10, maxActive: 100, sessionSeconds: 600)))
            try await body(client, schema)
        }
    }

    @Test func theOwnerIsStableInRangeAndSpreadsLockSets() {
        let peers = CombinerPeers(index: 0, count: 8, send: Self.never)
        var perOwner = [Int](repeating: 0, count: 8)
        for n in 0..<4_000 {
            let owner = peers.owner(of: "event-\(n)", classIDs: ["ga"])
            #expect((0..<8).contains(owner))
            #expect(owner == CombinerPeers(index: 5, count: 8, send: Self.never).owner(of: "event-\(n)", classIDs: ["ga"]))
            perOwner[owner] += 1
        }
        // 500 expected each; FNV-1a over these names is far from degenerate.
        #expect(perOwner.allSatisfy { (350...650).contains($0) }, "\(perOwner)")
        // The class list is part of the lock set; the event and class boundaries are kept apart.
        let owners = Set((0..<64).map { peers.owner(of: "show", classIDs: ["c\($0)"]) })
        #expect(owners.count > 4)
        #expect(peers.owner(of: "ab", classIDs: ["c"]) == peers.owner(of: "ab", classIDs: ["c"]))
        #expect(CombinerPeers(index: 0, count: 1, send: Self.never).owner(of: "x", classIDs: ["y"]) == 0)
    }

    @Test func requestsAndAnswersRoundTrip() throws {
        let operations = [
            InventoryOperation(op: .reserve, holder: 42, key: "k\"1", hash: "h", id: "r_1",
                               items: [.init(c: "ga", q: 2), .init(c: "vip", q: 1)]),
            InventoryOperation(op: .release, holder: -7, reservation: "r_2"),
            InventoryOperation(op: .confirm, holder: 9, key: "k", hash: "h2", reservation: "r_3", orderId: "o_1",
                               payment: .init(method: "card", simulate: "decline")),
            InventoryOperation(op: .confirm, holder: 9, key: "k", hash: "h2", reservation: "r_3", orderId: "o_1",
                               payment: .init(method: "card")),
        ]
        for operation in operations {
            let lockSet = InventoryBatcher.LockSet(eventID: "show/ü", classIDs: ["ga", "vip"])
            let (back, backSet) = try CombinerWire.parseRequest(CombinerWire.request(operation, on: lockSet))
            #expect(back == operation)
            #expect(backSet == lockSet)
        }
        var outcome = InventoryOutcome(status: 201, body: .init(
            reservationId: "r_1", status: "held", expiresAt: "2026-11-28T17:00:00Z",
            items: [.init(ticketClassId: "ga", quantity: 2, seats: ["A-1", "A-2"])]))
        outcome.lockWaitMicros = 1_234
        outcome.batchSize = 35
        outcome.lockedClassesExhausted = false
        outcome.replayed = true
        #expect(try CombinerWire.outcome(CombinerWire.answer(outcome)) == outcome)
        let refusal = InventoryOutcome(status: 409, error: "insufficient_inventory", message: "only 1 left")
        #expect(try CombinerWire.outcome(CombinerWire.answer(refusal)) == refusal)
        #expect(throws: InventoryError.self) { try CombinerWire.parseRequest("{\"event\":\"e\"}") }
        #expect(throws: InventoryError.self) { try CombinerWire.outcome("[]") }
    }

    @Test func theOwnersFailureIsThrownAsTheSameError() throws {
        let lockTimeout = PostgresError(code: .server, message: "canceling statement due to lock timeout", sqlState: "55P03")
        do {
            _ = try CombinerWire.outcome(CombinerWire.answer(failure: lockTimeout))
            Issue.record("no error thrown")
        } catch let error as PostgresError {
            #expect(error.isLockTimeout)
            #expect(error.code == .server)
            #expect(error.message == lockTimeout.message)
        }
        do {
            _ = try CombinerWire.outcome(CombinerWire.answer(failure: PostgresError(code: .unavailable, message: "down")))
            Issue.record("no error thrown")
        } catch let error as PostgresError {
            #expect(error.code == .unavailable)
        }
        do {
            _ = try CombinerWire.outcome(CombinerWire.answer(failure: InventoryError(.unexpectedReply, "odd")))
            Issue.record("no error thrown")
        } catch let error as InventoryError {
            #expect(error.code == .unexpectedReply)
            #expect(error.message == "odd")
        }
    }

    /// Two services on one schema, each with its own pool, wired as workers 0 and 1: every
    /// operation on the class is combined by its owner, whichever service it was submitted to.
    @Test func operationsOnALockSetAreCombinedByItsOwner() async throws {
        try await Self.withShow(capacity: 300) { client, schema in
            let other = try await TestDatabase.client(poolSize: 4, schema: schema)
            let services = Mutex<[ReservationService]>([])
            let sent = Mutex<[Int]>([])
            func peers(_ index: Int) -> CombinerPeers {
                CombinerPeers(index: index, count: 2) { process, request in
                    sent.withLock { $0.append(process) }
                    let target = services.withLock { $0[process] }
                    return await target.serveForwarded(request)
                }
            }
            let configuration = ReservationConfiguration(ticketsPerAdmission: 1_000)
            let pair = [
                ReservationService(database: client, configuration: configuration, peers: peers(0), logger: TestDatabase.logger),
                ReservationService(database: other, configuration: configuration, peers: peers(1), logger: TestDatabase.logger),
            ]
            services.withLock { $0 = pair }
            let owner = peers(0).owner(of: "show", classIDs: ["ga"])

            // 200 reserves, half submitted to each service, all at once: 200 holds, and every
            // batch ran in the owner (its batches carried operations submitted to both).
            let outcomes = try await withThrowingTaskGroup(of: InventoryOutcome.self) { group in
                for n in 0..<200 {
                    group.addTask {
                        try await pair[n % 2].reserve(eventID: "show", holder: Int64(n),
                                                      items: [.init(ticketClassId: "ga", quantity: 1)], idempotencyKey: "k\(n)")
                    }
                }
                var all: [InventoryOutcome] = []
                for try await outcome in group { all.append(outcome) }
                return all
            }
            #expect(outcomes.count == 200 && outcomes.allSatisfy { $0.status == 201 })
            #expect(sent.withLock { $0.count } == 100)
            #expect(sent.withLock { $0.allSatisfy { $0 == owner } })
            // Some of the owner's batches carried several operations.
            #expect(outcomes.contains { ($0.batchSize ?? 0) > 1 })

            // A reserve and its release submitted to the non-owner both go to the owner.
            let before = sent.withLock { $0.count }
            let hold = try await pair[1 - owner].reserve(eventID: "show", holder: 999,
                                                         items: [.init(ticketClassId: "ga", quantity: 2)], idempotencyKey: "x")
            let id = try #require(hold.body?.reservationId)
            #expect(try await pair[1 - owner].release(reservationID: id, eventID: "show", holder: 999).status == 204)
            #expect(sent.withLock { $0.count } == before + 2)
            #expect(try await EventCatalog(database: client).stock(eventID: "show").first?.held == 200)
            #expect(try await InventoryChecker(database: client).check().violations == [])
            await other.close()
        }
    }

    /// When the owner cannot be reached, the operation runs where it was submitted; a retried
    /// reserve with the same key (the owner may have run it) is the first outcome again.
    @Test func anUnreachableOwnerMeansTheOperationRunsHere() async throws {
        try await Self.withShow(capacity: 10) { client, _ in
            let attempts = Mutex(0)
            let probe = CombinerPeers(index: 0, count: 2, send: Self.never)
            // This service is never the owner of the class's lock set.
            let index = 1 - probe.owner(of: "show", classIDs: ["ga"])
            let service = ReservationService(
                database: client,
                peers: CombinerPeers(index: index, count: 2) { _, _ in
                    attempts.withLock { $0 += 1 }
                    throw CancellationError()
                },
                logger: TestDatabase.logger)
            let first = try await service.reserve(eventID: "show", holder: 1, items: [.init(ticketClassId: "ga", quantity: 2)],
                                                  idempotencyKey: "same")
            let again = try await service.reserve(eventID: "show", holder: 1, items: [.init(ticketClassId: "ga", quantity: 2)],
                                                  idempotencyKey: "same")
            #expect(first.status == 201)
            #expect(again.body?.reservationId == first.body?.reservationId)
            #expect(again.replayed == true)
            #expect(attempts.withLock { $0 } == 2)
            let id = try #require(first.body?.reservationId)
            #expect(try await service.release(reservationID: id, eventID: "show", holder: 1).status == 204)
            #expect(try await EventCatalog(database: client).stock(eventID: "show").first?.held == 0)
        }
    }

    /// Which worker a connection should go to (the edge hands it there): the owner of the
    /// reserve's classes, or of the reservation's, when that is another process; nobody for this
    /// process's own lock sets, a single process, items the reserve refuses, or an unknown hold.
    @Test func theRemoteOwnerIsTheOtherProcessOnlyWhenItOwnsTheLockSet() async throws {
        try await Self.withShow(capacity: 10) { client, _ in
            let probe = CombinerPeers(index: 0, count: 2, send: Self.never)
            let owner = probe.owner(of: "show", classIDs: ["ga"])
            let ga: [ReservationItem] = [.init(ticketClassId: "ga", quantity: 1)]
            let owning = ReservationService(database: client, peers: CombinerPeers(index: owner, count: 2, send: Self.never),
                                            logger: TestDatabase.logger)
            let other = ReservationService(database: client, peers: CombinerPeers(index: 1 - owner, count: 2, send: Self.never),
                                           logger: TestDatabase.logger)
            let alone = ReservationService(database: client, logger: TestDatabase.logger)
            #expect(other.remoteOwner(eventID: "show", items: ga) == owner)
            #expect(owning.remoteOwner(eventID: "show", items: ga) == nil)
            #expect(alone.remoteOwner(eventID: "show", items: ga) == nil)
            #expect(other.remoteOwner(eventID: "show", items: []) == nil)
            #expect(other.remoteOwner(eventID: "show", items: [.init(ticketClassId: "ga", quantity: 0)]) == nil)
            // The lock set of several classes is their sorted set, whatever the order asked.
            let twoClasses: [ReservationItem] = [.init(ticketClassId: "vip", quantity: 1), .init(ticketClassId: "ga", quantity: 1)]
            let pairOwner = probe.owner(of: "show", classIDs: ["ga", "vip"])
            #expect(other.remoteOwner(eventID: "show", items: twoClasses) == (pairOwner == 1 - owner ? nil : pairOwner))

            // A hold made by the owner (looked up in the database by the other process).
            let hold = try await owning.reserve(eventID: "show", holder: 7, items: ga, idempotencyKey: "k")
            let id = try #require(hold.body?.reservationId)
            // Another admission's hold: nobody (the operation answers 404 here). Asked first: a
            // lock set once known is cached by id, and then the owner answers the 404.
            #expect(try await other.remoteOwner(reservationID: id, eventID: "show", holder: 8) == nil)
            #expect(try await other.remoteOwner(reservationID: id, eventID: "show", holder: 7) == owner)
            #expect(try await owning.remoteOwner(reservationID: id, eventID: "show", holder: 7) == nil)
            // Another event's, or an unknown one: nobody.
            #expect(try await other.remoteOwner(reservationID: id, eventID: "other", holder: 7) == nil)
            #expect(try await other.remoteOwner(reservationID: "r_nope", eventID: "show", holder: 7) == nil)
        }
    }
}
