import FastJSON
import Foundation
import Logging
import Metrics
import Postgres
import Synchronization
import Tokens

/// Holds, releases and confirmations of tickets. Every operation that changes stock goes
/// through a per-lock-set combiner into one transaction (`inventory_apply`): the class rows are
/// locked `FOR UPDATE` once per batch, the whole transaction is one round trip, the counters
/// are written once per class, and `synchronous_commit` stays on. An outcome is returned only
/// after its batch committed, so an acknowledged hold survives a crash.
public final class ReservationService: Sendable {
    /// A payment request of a confirmation.
    public struct Payment: Sendable, Equatable {
        public var method: String
        /// `approve`, `decline` or `timeout`: honoured by the simulated provider only.
        public var simulate: String?

        public init(method: String, simulate: String? = nil) {
            self.method = method
            self.simulate = simulate
        }

        public static let simulations: Set<String> = ["approve", "decline", "timeout"]

        func validated() throws(InventoryError) -> Payment {
            guard (1...32).contains(method.utf8.count),
                  method.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F || ($0 >= 0x30 && $0 <= 0x39) }) else {
                throw InventoryError(.invalidPayment, "payment.method must match [a-z0-9_]{1,32}")
            }
            if let simulate, !Self.simulations.contains(simulate) {
                throw InventoryError(.invalidPayment, "payment.simulate must be approve, decline or timeout")
            }
            return self
        }
    }

    public let configuration: ReservationConfiguration
    private let database: PostgresClient
    private let logger: Logger
    private let soldOut: @Sendable (String) async -> Void
    private let soldOutReported = Mutex<Set<String>>([])
    private let batcher: InventoryBatcher
    /// The pipelined sessions that carry the batches (none: the pool does).
    private let batchLanes: [PostgresPipelineLane]
    private let metrics: ReservationMetrics
    /// Lock sets of reservations made or seen here: they never change, and a release or confirm
    /// usually comes back to the process that made the hold (keep-alive), so most need no lookup.
    private let lockSets = LockSetCache(capacity: 200_000)
    /// The other worker processes of this machine, when there are several (`CombinerPeers`).
    private let peers: CombinerPeers?

    /// `soldOut` is called (once per event and process) when every class of an event is sold
    /// and nothing can give tickets back: no live hold, and no order whose payment is still open
    /// (a declined or timed-out payment returns its tickets). `batchDatabase` (default: `database`) carries the
    /// combined transactions: a pool of their own keeps them from queueing behind other queries.
    /// With `pipelined` (a server's configuration), `lanes` pipelined sessions on that server
    /// carry them instead (``PostgresPipelineLane``, each connected on first use; `close()` ends
    /// them). `batchExecutor`, when given, runs the batches' tasks (see `InventoryBatcher`).
    public init(database: PostgresClient, batchDatabase: PostgresClient? = nil,
                pipelined: PostgresConfiguration? = nil, lanes: Int = 4,
                batchExecutor: (any TaskExecutor)? = nil,
                configuration: ReservationConfiguration = .init(),
                peers: CombinerPeers? = nil,
                logger: Logger, soldOut: @escaping @Sendable (String) async -> Void = { _ in }) {
        self.database = database
        self.peers = peers
        self.configuration = configuration
        self.logger = logger
        self.soldOut = soldOut
        let metrics = ReservationMetrics()
        self.metrics = metrics
        let lockTimeoutMs = max(1, Int(configuration.lockTimeout.wholeMilliseconds))
        let hold = configuration.holdSeconds
        let limit = configuration.ticketsPerAdmission
        let batchDatabase = batchDatabase ?? database
        let batchLanes = pipelined.map { base in (0..<max(1, lanes)).map { _ in Self.makeBatchLane(base, configuration: configuration, logger: logger) } } ?? []
        self.batchLanes = batchLanes
        // With pipelined sessions, two batches of a lock set are in flight: the second is sent
        // while the first runs, on the same session (a lock set always maps to the same one), so
        // it starts the moment the first commits and they commit in order.
        self.batcher = InventoryBatcher(maxBatchSize: configuration.maxBatchSize, maxInFlight: batchLanes.isEmpty ? 1 : 2,
                                        executor: batchExecutor) { lockSet, operations in
            // Called under the batcher's lock: on the pool, only the run is returned (the
            // statement is built when it runs); on a lane, the batch must be enqueued here.
            let started = ContinuousClock.now
            guard !batchLanes.isEmpty else {
                return {
                    let replies = try await batchDatabase.transactionPipeline([
                        PostgresStatement("SET LOCAL lock_timeout = '\(lockTimeoutMs)ms'"),
                        Self.applyStatement(operations, on: lockSet, holdSeconds: hold, ticketLimit: limit),
                    ])
                    return try Self.outcomes(of: operations, replies: replies, started: started, metrics: metrics)
                }
            }
            // One implicit transaction per batch, committed at its Sync. Enqueued here, in batch
            // order. The lane's session has the lock timeout as its own setting and the call
            // prepared (`makeBatchLane`): the batch is that one statement.
            let lane = batchLanes[Int(UInt(bitPattern: lockSet.hashValue) % UInt(batchLanes.count))]
            let pending = lane.enqueue([Self.applyStatement(operations, on: lockSet, holdSeconds: hold, ticketLimit: limit)])
            return { try Self.outcomes(of: operations, replies: try await pending.value, started: started, metrics: metrics) }
        }
    }

    // MARK: Operations

    /// Holds `items` for the admission `holder` of `eventID`: `201` with the hold, `409
    /// insufficient_inventory` (nothing held), `409 ticket_limit_exceeded`, `422 invalid_items`
    /// for a class the event does not have; the key's first outcome again for a retried request.
    public func reserve(eventID: String, holder: Int64, items: [ReservationItem],
                        idempotencyKey: String) async throws -> InventoryOutcome {
        let items = try ReservationItem.normalized(
            items, limit: configuration.ticketsPerAdmission > 0 ? configuration.ticketsPerAdmission : 1_000)
        let canonical = "reserve|" + items.map { "\($0.ticketClassId):\($0.quantity)" }.joined(separator: ",")
        let operation = InventoryOperation(
            op: .reserve, holder: holder, key: idempotencyKey, hash: Self.requestHash(canonical),
            id: Self.newID(prefix: "r_"), items: items.map { .init(c: $0.ticketClassId, q: $0.quantity) })
        let lockSet = InventoryBatcher.LockSet(eventID: eventID, classIDs: items.map(\.ticketClassId))
        let outcome = try await submit(operation, on: lockSet)
        if outcome.status == 201, let id = outcome.body?.reservationId { lockSets.insert(id, lockSet) }
        metrics.count(.reserve, outcome)
        // A refusal for stock while the locked classes still have holds or stock cannot mean sold
        // out: no query then (at the end of a sale nearly every request is such a refusal).
        if outcome.error == "insufficient_inventory", outcome.lockedClassesExhausted == true {
            await checkSoldOut(eventID: eventID)
        }
        return outcome
    }

    /// Gives a hold's tickets back at once: `204` (also when it had already ended), `409
    /// reservation_confirmed`, `404 reservation_not_found` (also for another admission's).
    public func release(reservationID: String, eventID: String, holder: Int64) async throws -> InventoryOutcome {
        guard let lockSet = try await lockSet(of: reservationID, eventID: eventID, holder: holder) else {
            return Self.notFound
        }
        let outcome = try await submit(
            InventoryOperation(op: .release, holder: holder, reservation: reservationID), on: lockSet)
        metrics.count(.release, outcome)
        return outcome
    }

    /// Confirms a live hold: its tickets become sold and, in the same transaction, an order
    /// request (`pending`) is written for the order saga. `202 {orderId, status}`; `409
    /// reservation_expired` (by the database clock, checked under the lock), `409
    /// reservation_released`, `404`.
    public func confirm(reservationID: String, eventID: String, holder: Int64, payment: Payment,
                        idempotencyKey: String) async throws -> InventoryOutcome {
        let payment = try payment.validated()
        guard let lockSet = try await lockSet(of: reservationID, eventID: eventID, holder: holder) else {
            return Self.notFound
        }
        let canonical = "confirm|\(reservationID)|\(payment.method)|\(payment.simulate ?? "")"
        let operation = InventoryOperation(
            op: .confirm, holder: holder, key: idempotencyKey, hash: Self.requestHash(canonical),
            reservation: reservationID, orderId: Self.newID(prefix: "o_"),
            payment: .init(method: payment.method, simulate: payment.simulate))
        let outcome = try await submit(operation, on: lockSet)
        metrics.count(.confirm, outcome)
        if outcome.status == 202, outcome.lockedClassesExhausted == true { await checkSoldOut(eventID: eventID) }
        return outcome
    }

    /// A reservation as its admission sees it (a hold past its time reads `expired` even before
    /// the sweeper got to it), or `nil` (unknown, or another admission's).
    public func reservation(id: String, eventID: String, holder: Int64) async throws -> InventoryOutcome.Body? {
        let rows = try await database.query("""
            SELECT jsonb_strip_nulls(jsonb_build_object(
                'reservationId', r.id,
                'status', CASE WHEN r.status = 'held' AND r.expires_at <= now() THEN 'expired' ELSE r.status END,
                'expiresAt', inventory_time(r.expires_at),
                'orderId', r.order_id,
                'items', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                              'ticketClassId', ri.ticket_class_id, 'quantity', ri.quantity,
                              'seats', (SELECT jsonb_agg(rs.seat_id ORDER BY rs.seat_id) FROM reservation_seats rs
                                        WHERE rs.reservation_id = r.id AND rs.ticket_class_id = ri.ticket_class_id)))
                              ORDER BY ri.ticket_class_id)
                          FROM reservation_items ri WHERE ri.reservation_id = r.id)))::text
            FROM reservations r WHERE r.id = $1 AND r.event_id = $2 AND r.holder = $3
            """, [.string(id), .string(eventID), .int(holder)])
        guard let text = try rows.first?.decode(String.self, at: 0) else { return nil }
        return try InventoryOutcome.Body(json: InventoryJSON.parse(text))
    }

    // MARK: Which process serves

    /// The worker process of this machine that combines the reservations of `items` in
    /// `eventID` when it is another one (`nil`: this one, a single process, or items the reserve
    /// will refuse anyway). The edge may hand the connection to it (`ConnectionHandoff`).
    public func remoteOwner(eventID: String, items: [ReservationItem]) -> Int? {
        guard let peers, peers.count > 1,
              let items = try? ReservationItem.normalized(
                  items, limit: configuration.ticketsPerAdmission > 0 ? configuration.ticketsPerAdmission : 1_000)
        else { return nil }
        let owner = peers.owner(of: InventoryBatcher.LockSet(eventID: eventID, classIDs: items.map(\.ticketClassId)))
        return owner == peers.index ? nil : owner
    }

    /// The same for the operations on a reservation (release, confirm): its owner, when another
    /// process; `nil` too for a reservation this admission does not have.
    public func remoteOwner(reservationID: String, eventID: String, holder: Int64) async throws -> Int? {
        guard let peers, peers.count > 1,
              let lockSet = try await lockSet(of: reservationID, eventID: eventID, holder: holder) else { return nil }
        let owner = peers.owner(of: lockSet)
        return owner == peers.index ? nil : owner
    }

    /// Operations waiting for a batch in this process.
    public var queuedOperations: Int { batcher.queued }

    // MARK: Combining across processes

    /// Runs a request another process sent (`CombinerWire`) through this process's combiner and
    /// answers it: the outcome, or the batch's failure.
    public func serveForwarded(_ request: String) async -> String {
        do {
            let (operation, lockSet) = try CombinerWire.parseRequest(request)
            return CombinerWire.answer(try await batcher.submit(operation, on: lockSet))
        } catch {
            return CombinerWire.answer(failure: error)
        }
    }

    /// `operation` through the combiner of its lock set's owner: this process's, or another's.
    private func submit(_ operation: InventoryOperation, on lockSet: InventoryBatcher.LockSet) async throws -> InventoryOutcome {
        if let peers, peers.count > 1 {
            let owner = peers.owner(of: lockSet)
            if owner != peers.index {
                let answer: String
                do {
                    answer = try await peers.send(owner, CombinerWire.request(operation, on: lockSet))
                } catch {
                    // Not delivered, or no answer: run it here (see CombinerPeers on why that is safe).
                    metrics.forwardFailed()
                    logger.debug("combiner owner unreachable; running here", metadata: [
                        "inventory.owner": "\(owner)", "error": "\(error)"])
                    return try await batcher.submit(operation, on: lockSet)
                }
                metrics.forwarded()
                return try CombinerWire.outcome(answer)
            }
        }
        return try await batcher.submit(operation, on: lockSet)
    }

    // MARK: Internals

    static let notFound = InventoryOutcome(status: 404, error: "reservation_not_found", message: "no such reservation")

    private func lockSet(of reservationID: String, eventID: String, holder: Int64) async throws -> InventoryBatcher.LockSet? {
        // A cached lock set may belong to another event or holder: the batch function checks both
        // (404 from there), so the cache can only save a lookup, never grant access.
        if let cached = lockSets.get(reservationID), cached.eventID == eventID { return cached }
        let rows = try await database.query(
            "SELECT array_to_string(class_ids, ',') FROM reservations WHERE id = $1 AND event_id = $2 AND holder = $3",
            [.string(reservationID), .string(eventID), .int(holder)])
        guard let classes = try rows.first?.decode(String.self, at: 0) else { return nil }
        let lockSet = InventoryBatcher.LockSet(eventID: eventID, classIDs: classes.split(separator: ",").map(String.init))
        lockSets.insert(reservationID, lockSet)
        return lockSet
    }

    /// What `inventory_apply` answers: `{lockWaitMicros, results: [outcome], classes: [{id,
    /// capacity, held, sold}]}` (read with `FastJSON`).
    struct BatchReply {
        struct ClassStock {
            var id: String; var capacity: Int; var held: Int; var sold: Int
            var isExhausted: Bool { held == 0 && held + sold >= capacity }
        }
        var lockWaitMicros: Int64
        var results: [InventoryOutcome]
        var classes: [ClassStock]

        init(text: String) throws(InventoryError) {
            let json = try InventoryJSON.parse(text)
            guard let wait = json["lockWaitMicros"]?.int64, let results = json["results"]?.array,
                  let classes = json["classes"]?.array else {
                throw InventoryJSON.malformed("batch reply")
            }
            lockWaitMicros = wait
            self.results = []
            self.results.reserveCapacity(results.count)
            for result in results { self.results.append(try InventoryOutcome(json: result)) }
            self.classes = []
            for stock in classes {
                guard let id = stock["id"]?.string, let capacity = stock["capacity"]?.int,
                      let held = stock["held"]?.int, let sold = stock["sold"]?.int else {
                    throw InventoryJSON.malformed("class stock")
                }
                self.classes.append(.init(id: id, capacity: capacity, held: held, sold: sold))
            }
        }
    }

    /// Ends the pipelined sessions once what was sent on them has its outcome.
    public func close() {
        for lane in batchLanes { lane.close() }
    }

    /// A pipelined session for the batches (``PostgresPipelineLane``) on `base`'s server: the
    /// lock timeout is its session's setting and the batch's call is prepared on it, so a batch is
    /// one statement the server neither parses nor plans.
    private static func makeBatchLane(_ base: PostgresConfiguration, configuration: ReservationConfiguration,
                                     logger: Logger) -> PostgresPipelineLane {
        var lane = base
        lane.lockTimeout = configuration.lockTimeout
        return PostgresPipelineLane(configuration: lane, logger: logger, prepared: [applySQL])
    }

    private static let applySQL = "SELECT inventory_apply($1, string_to_array($2, ','), $3::jsonb, $4::integer, $5::integer)::text"

    /// The batch's call of `inventory_apply`.
    private static func applyStatement(_ operations: [InventoryOperation], on lockSet: InventoryBatcher.LockSet,
                                       holdSeconds: Int, ticketLimit: Int) -> PostgresStatement {
        PostgresStatement(applySQL, [
            .string(lockSet.eventID), .string(lockSet.classIDs.joined(separator: ",")), .string(InventoryOperation.jsonArray(operations)),
            .int(Int64(holdSeconds)), .int(Int64(ticketLimit)),
        ])
    }

    /// The outcomes of a batch from its replies (`inventory_apply`'s the last).
    private static func outcomes(of operations: [InventoryOperation], replies: [PostgresRows], started: ContinuousClock.Instant,
                                 metrics: ReservationMetrics) throws -> [InventoryOutcome] {
        guard let text = try replies.last?.first?.decode(String.self, at: 0) else {
            throw InventoryError(.unexpectedReply, "inventory_apply returned no row")
        }
        let reply = try BatchReply(text: text)
        metrics.batch(size: operations.count, lockWaitMicros: reply.lockWaitMicros, duration: ContinuousClock.now - started)
        let exhausted = reply.classes.allSatisfy(\.isExhausted)
        return reply.results.map { outcome in
            var outcome = outcome
            outcome.lockWaitMicros = reply.lockWaitMicros
            outcome.batchSize = operations.count
            outcome.lockedClassesExhausted = exhausted
            return outcome
        }
    }

    /// Reports the event sold out if every class is sold and nothing can come back. Checked
    /// after a refusal for stock and a confirmation here, and by the wiring after an order
    /// completes (the last open payment settling is what makes an event sold out for good).
    public func checkSoldOut(eventID: String) async {
        guard !soldOutReported.withLock({ $0.contains(eventID) }) else { return }
        do {
            let rows = try await database.query("""
                SELECT bool_and(held = 0 AND held + sold >= capacity)
                       AND NOT EXISTS (SELECT 1 FROM orders WHERE event_id = $1 AND status IN ('pending', 'awaiting_payment'))
                FROM ticket_classes WHERE event_id = $1
                """, [.string(eventID)])
            guard try rows.first?.decode(Bool?.self, at: 0) == true else { return }
            guard soldOutReported.withLock({ $0.insert(eventID).inserted }) else { return }
            logger.info("event sold out", metadata: ["inventory.event": "\(eventID)"])
            await soldOut(eventID)
        } catch {
            logger.warning("sold-out check failed", metadata: ["inventory.event": "\(eventID)", "error": "\(error)"])
        }
    }

    static func requestHash(_ canonical: String) -> String {
        Crypto.hex(Crypto.sha256(Array(canonical.utf8)))
    }

    /// A time prefix and 128 random bits (`TimeOrderedID`): unguessable, a valid path id, and
    /// in creation order in the indexes.
    static func newID(prefix: String) -> String {
        TimeOrderedID.make(prefix: prefix)
    }
}
