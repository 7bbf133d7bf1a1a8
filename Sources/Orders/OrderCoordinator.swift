import Foundation
import Logging
import Metrics
import Postgres
import ServiceLifecycle
import Synchronization

/// The durable order saga's worker. Any number of them (one per process) claim due orders with
/// `FOR UPDATE SKIP LOCKED` and a lease, heartbeat the lease while a step runs, and fence every
/// transition on it: a coordinator that lost its lease changes nothing. The saga's state is the
/// `orders` row, so a restarted coordinator resumes from the last checkpoint; provider calls are
/// idempotent by order, so a step repeated after a crash never charges or refunds twice.
///
///     pending ──create payment──▶ awaiting_payment ──webhook: succeeded──▶ paid ──issue tickets──▶ completed
///        │                            │  webhook: failed / deadline passed: tickets back
///        └────────────────────────────┴──▶ cancelled ──(payment lands late)──refund──▶ refunded
public final class OrderCoordinator: Service, Sendable {
    /// Called after an order completed: the buyer's admission session ends (frees its slot).
    public typealias AdmissionFinished = @Sendable (_ eventID: String, _ holder: Int64) async -> Void

    private let database: PostgresClient
    private let provider: any PaymentProvider
    private let configuration: OrdersConfiguration
    private let logger: Logger
    private let owner: String
    private let admissionFinished: AdmissionFinished
    private let listen: (@Sendable () async throws -> AsyncStream<Void>)?
    private let isReady: @Sendable () -> Bool
    private let inFlight = Mutex<Set<String>>([])
    private let steps: Counter
    private let failures: Counter
    private let attention: Counter

    /// `listen` gives a stream that yields when an order may be due (LISTEN/NOTIFY); without
    /// it (or when it fails) the coordinator polls every `pollInterval`.
    public init(database: PostgresClient, provider: any PaymentProvider, configuration: OrdersConfiguration,
                logger: Logger, owner: String = "coordinator-" + UUID().uuidString.prefix(8).lowercased(),
                isReady: @escaping @Sendable () -> Bool = { true },
                listen: (@Sendable () async throws -> AsyncStream<Void>)? = nil,
                admissionFinished: @escaping AdmissionFinished = { _, _ in }) {
        self.database = database
        self.provider = provider
        self.configuration = configuration
        self.logger = logger
        self.owner = owner
        self.isReady = isReady
        self.listen = listen
        self.admissionFinished = admissionFinished
        self.steps = Counter(label: "orders_saga_steps_total")
        self.failures = Counter(label: "orders_saga_step_failures_total")
        self.attention = Counter(label: "orders_needs_attention_total")
    }

    public func run() async throws {
        let wake = Doorbell()
        try await withThrowingTaskGroup(of: Void.self) { group in
            if let listen {
                group.addTask { [logger] in
                    while !Task.isCancelled {
                        do {
                            for await _ in try await listen() { wake.ring() }
                        } catch {
                            logger.debug("order notifications unavailable; polling", metadata: ["error": "\(error)"])
                        }
                        try? await Task.sleep(for: .seconds(1))
                    }
                }
            }
            group.addTask { [self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: configuration.leaseDuration / 3)
                    try? await heartbeat()
                }
            }
            group.addTask { [self] in
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    var claimed = 0
                    if isReady() {
                        do {
                            claimed = try await runOnce()
                        } catch {
                            logger.warning("order coordinator round failed", metadata: ["error": "\(error)"])
                        }
                    }
                    if claimed < configuration.claimBatch {
                        // Wait for a notification or the poll interval, whichever comes first.
                        await wake.wait(atMost: configuration.pollInterval)
                    }
                }
            }
            try await gracefulShutdown()
            group.cancelAll()
        }
    }

    /// Claims due orders and runs one step of each (concurrently); returns how many it claimed.
    @discardableResult
    public func runOnce() async throws -> Int {
        let claimed = try await claim()
        await withTaskGroup(of: Void.self) { group in
            for order in claimed { group.addTask { await self.step(order) } }
        }
        return claimed.count
    }

    struct Claimed: Sendable {
        var id: String
        var status: String
        var refund: String?
        var paymentID: String?
        var amountCents: Int64
        var simulate: String?
        var eventID: String
        var holder: Int64
        var attempts: Int
    }

    private func claim() async throws -> [Claimed] {
        let rows = try await database.query("""
            UPDATE orders SET lease_owner = $1, lease_until = now() + make_interval(secs => $2)
            WHERE id IN (
                SELECT id FROM orders
                WHERE NOT needs_attention AND next_attempt_at <= now()
                  AND (status IN ('pending', 'paid') OR (status = 'awaiting_payment' AND deadline <= now()) OR refund = 'pending')
                  AND (lease_until IS NULL OR lease_until < now())
                ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
            RETURNING id, status, refund, payment_id, amount_cents, simulate, event_id, holder, attempts
            """, [.string(owner), .double(configuration.leaseDuration.fractionalSeconds), .int(Int64(configuration.claimBatch))])
        let claimed = try rows.map {
            Claimed(id: try $0.decode(String.self, at: 0), status: try $0.decode(String.self, at: 1),
                    refund: try $0.decode(String?.self, at: 2), paymentID: try $0.decode(String?.self, at: 3),
                    amountCents: try $0.decode(Int64.self, at: 4), simulate: try $0.decode(String?.self, at: 5),
                    eventID: try $0.decode(String.self, at: 6), holder: try $0.decode(Int64.self, at: 7),
                    attempts: try $0.decode(Int.self, at: 8))
        }
        inFlight.withLock { $0.formUnion(claimed.map(\.id)) }
        return claimed
    }

    private func heartbeat() async throws {
        let ids = inFlight.withLock { Array($0) }
        guard !ids.isEmpty else { return }
        _ = try await database.query("""
            UPDATE orders SET lease_until = now() + make_interval(secs => $2)
            WHERE lease_owner = $1 AND id = ANY (string_to_array($3, ','))
            """, [.string(owner), .double(configuration.leaseDuration.fractionalSeconds), .string(ids.joined(separator: ","))])
    }

    private func step(_ order: Claimed) async {
        defer { _ = inFlight.withLock { $0.remove(order.id) } }
        steps.increment()
        var metadata: Logger.Metadata = ["saga.id": "\(order.id)", "status": "\(order.status)"]
        do {
            let result: String
            if order.refund == "pending", let payment = order.paymentID {
                try await provider.refund(paymentID: payment, amountCents: order.amountCents)
                result = try await transition(order.id, expect: ["cancelled"], to: "cancelled", refund: "done",
                                              topic: "order.refunded", finalStatus: "refunded")
            } else {
                switch order.status {
                case "pending":
                    let payment = try await provider.createPayment(orderID: order.id, amountCents: order.amountCents,
                                                                   simulate: order.simulate)
                    result = try await checkpointAwaitingPayment(order.id, payment: payment)
                case "awaiting_payment":
                    result = try await transition(order.id, expect: ["awaiting_payment"], to: "cancelled", release: true,
                                                  reason: "payment_timeout", topic: "order.cancelled")
                case "paid":
                    let rows = try await database.query("SELECT orders_complete($1, $2)", [.string(order.id), .string(owner)])
                    result = try rows.first?.decode(String.self, at: 0) ?? "skipped"
                    if result == "ok" { await admissionFinished(order.eventID, order.holder) }
                default:
                    result = "skipped"
                }
            }
            metadata["result"] = "\(result)"
            logger.debug("saga step", metadata: metadata)
            if result != "ok" { try? await releaseLease(order.id) }
        } catch {
            failures.increment()
            metadata["error"] = "\(error)"
            logger.warning("saga step failed; will retry", metadata: metadata)
            try? await retryLater(order)
        }
    }

    private func checkpointAwaitingPayment(_ id: String, payment: String) async throws -> String {
        // One statement: the checkpoint (fenced) and, only if it happened, its outbox row.
        let rows = try await database.query("""
            WITH checkpoint AS (
                UPDATE orders SET status = 'awaiting_payment', payment_id = $3, deadline = now() + make_interval(secs => $4),
                    lease_owner = NULL, lease_until = NULL, attempts = 0, next_attempt_at = now() + make_interval(secs => $4),
                    updated_at = now()
                WHERE id = $1 AND status = 'pending' AND lease_owner = $2 AND lease_until > clock_timestamp()
                RETURNING id, payment_id, event_id)
            INSERT INTO outbox (topic, payload)
            SELECT 'order.awaiting_payment', jsonb_build_object('orderId', id, 'status', 'awaiting_payment', 'paymentId', payment_id,
                                                                'eventId', event_id, 'at', inventory_time(now()))
            FROM checkpoint
            """, [.string(id), .string(owner), .string(payment), .double(configuration.paymentTimeout.fractionalSeconds)])
        return rows.affectedRows == 1 ? "ok" : "skipped"
    }

    private func transition(_ id: String, expect: [String], to status: String, release: Bool = false, reason: String? = nil,
                            refund: String? = nil, topic: String, finalStatus: String? = nil) async throws -> String {
        let rows = try await database.query("SELECT orders_transition($1, $2, string_to_array($3, ','), $4, $5, $6, $7, $8)", [
            .string(id), .string(owner), .string(expect.joined(separator: ",")), .string(finalStatus ?? status),
            .bool(release), reason.map { .string($0) } ?? .null, refund.map { .string($0) } ?? .null, .string(topic),
        ])
        return try rows.first?.decode(String.self, at: 0) ?? "skipped"
    }

    private func releaseLease(_ id: String) async throws {
        _ = try await database.query("UPDATE orders SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2",
                                     [.string(id), .string(owner)])
    }

    /// Exponential backoff with full jitter; a forward step that failed `maxAttempts` times
    /// needs attention, a compensation (refund) retries forever.
    private func retryLater(_ order: Claimed) async throws {
        let attempt = order.attempts + 1
        let capped = min(configuration.retryCap.fractionalSeconds, configuration.retryBase.fractionalSeconds * pow(2, Double(min(attempt, 30))))
        let delay = Double.random(in: 0...capped)
        let giveUp = attempt >= configuration.maxAttempts && order.refund != "pending"
        if giveUp {
            attention.increment()
            logger.error("saga needs attention", metadata: ["saga.id": "\(order.id)", "attempts": "\(attempt)"])
        }
        _ = try await database.query("""
            UPDATE orders SET attempts = $3, next_attempt_at = now() + make_interval(secs => $4), needs_attention = $5,
                lease_owner = NULL, lease_until = NULL
            WHERE id = $1 AND lease_owner = $2
            """, [.string(order.id), .string(owner), .int(Int64(attempt)), .double(delay), .bool(giveUp)])
    }
}
