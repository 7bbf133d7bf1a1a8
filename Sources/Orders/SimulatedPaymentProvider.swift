import Foundation
import Logging
import Postgres
import ServiceLifecycle

/// The built-in payment simulator, the default provider. Its ledger is in PostgreSQL
/// (`sim_payments`: one payment per order, with its charges and refunds counted), so it is
/// shared by every process and survives crashes. `simulate` decides the outcome (`approve`,
/// `decline`, `timeout`: no answer at all); the result is delivered by calling the webhook with
/// a valid signature after `simulatedLatency`, and sometimes a second time, late, so the saga's
/// idempotency is exercised all the time.
public struct SimulatedPaymentProvider: PaymentProvider {
    private let database: PostgresClient
    private let configuration: OrdersConfiguration
    private let scheduled: Doorbell?

    /// `scheduled` is rung when a webhook call was scheduled (this process's sender wakes).
    public init(database: PostgresClient, configuration: OrdersConfiguration, scheduled: Doorbell? = nil) {
        self.database = database
        self.configuration = configuration
        self.scheduled = scheduled
    }

    public func createPayment(orderID: String, amountCents: Int64, simulate: String?) async throws -> String {
        let latency = configuration.simulatedLatency.fractionalSeconds
        let rows = try await database.query("""
            WITH ins AS (
                INSERT INTO sim_payments (id, order_id, amount_cents, outcome, status, charges)
                VALUES ('pay_' || replace(gen_random_uuid()::text, '-', ''), $1, $2, $3, 'charged', 1)
                ON CONFLICT (order_id) DO NOTHING
                RETURNING id, outcome),
            deliveries AS (
                INSERT INTO sim_deliveries (payment_id, deliver_at)
                SELECT id, now() + make_interval(secs => $4) FROM ins WHERE outcome <> 'timeout'
                UNION ALL
                SELECT id, now() + make_interval(secs => $4 + 0.2 + random() * 1.5) FROM ins
                WHERE outcome <> 'timeout' AND random() < $5)
            SELECT id FROM ins
            UNION ALL
            SELECT id FROM sim_payments WHERE order_id = $1 AND NOT EXISTS (SELECT 1 FROM ins)
            """, [.string(orderID), .int(amountCents), .string(simulate ?? "approve"), .double(latency),
                  .double(configuration.simulatedDuplicateRate)])
        guard let id = try rows.first?.decode(String.self, at: 0) else {
            throw OrdersError(.provider, "the simulator made no payment")
        }
        scheduled?.ring()
        return id
    }

    public func refund(paymentID: String, amountCents: Int64) async throws {
        let rows = try await database.query("""
            UPDATE sim_payments SET refunds = refunds + CASE WHEN status = 'refunded' THEN 0 ELSE 1 END, status = 'refunded'
            WHERE id = $1 AND amount_cents = $2
            """, [.string(paymentID), .int(amountCents)])
        if rows.affectedRows == 0 { throw OrdersError(.provider, "the simulator has no payment \(paymentID) of \(amountCents)") }
    }
}

/// Delivers the simulator's webhook calls that are due (each process runs one; rows are claimed
/// with `SKIP LOCKED`, so each call goes out once per scheduled delivery; a failed call is
/// tried again 2 s later).
public struct SimulatedPaymentWebhooks: Service {
    /// Posts one signed body; true when the receiver accepted it (2xx).
    public typealias Deliver = @Sendable (_ body: [UInt8], _ signature: String) async throws -> Bool

    private let database: PostgresClient
    private let configuration: OrdersConfiguration
    private let deliver: Deliver
    private let logger: Logger
    private let isReady: @Sendable () -> Bool
    private let scheduled: Doorbell

    /// `scheduled`: the doorbell the provider rings when it schedules a call.
    public init(database: PostgresClient, configuration: OrdersConfiguration, logger: Logger,
                isReady: @escaping @Sendable () -> Bool = { true }, scheduled: Doorbell = Doorbell(),
                deliver: @escaping Deliver) {
        self.database = database
        self.configuration = configuration
        self.deliver = deliver
        self.logger = logger
        self.isReady = isReady
        self.scheduled = scheduled
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            var sent = 0
            var idle: Duration = .seconds(1)
            if isReady() {
                do {
                    sent = try await deliverDue()
                    if sent == 0 { idle = try await untilNextDue() }
                } catch {
                    logger.warning("payment simulator could not deliver webhooks", metadata: ["error": "\(error)"])
                }
            }
            // Until the next scheduled call, or a new one from this process (at most a second:
            // other processes schedule too).
            if sent == 0 { await scheduled.wait(atMost: idle) }
        }
    }

    /// Time until the earliest undelivered call is due, between 5 ms and 1 s.
    private func untilNextDue() async throws -> Duration {
        let rows = try await database.query(
            "SELECT extract(epoch FROM min(deliver_at) - now()) FROM sim_deliveries WHERE delivered_at IS NULL")
        guard let seconds = try rows.first?.decode(Double?.self, at: 0) else { return .seconds(1) }
        return .milliseconds(Int64(min(1_000, max(5, seconds * 1_000))))
    }

    /// Delivers what is due now; returns how many calls it made.
    @discardableResult
    public func deliverDue(limit: Int = 64) async throws -> Int {
        let due = try await database.query("""
            UPDATE sim_deliveries d SET attempts = d.attempts + 1, deliver_at = now() + interval '2 seconds'
            FROM sim_payments p
            WHERE p.id = d.payment_id AND d.id IN (
                SELECT id FROM sim_deliveries WHERE delivered_at IS NULL AND deliver_at <= now()
                ORDER BY deliver_at LIMIT $1 FOR UPDATE SKIP LOCKED)
            RETURNING d.id, p.id, p.order_id, p.amount_cents, p.outcome
            """, [.int(Int64(limit))])
        guard !due.isEmpty else { return 0 }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for row in due {
                let delivery = try row.decode(Int64.self, at: 0)
                let body = PaymentWebhookBody(
                    paymentId: try row.decode(String.self, at: 1), orderId: try row.decode(String.self, at: 2),
                    status: try row.decode(String.self, at: 4) == "approve" ? "succeeded" : "failed",
                    amountCents: try row.decode(Int64.self, at: 3))
                group.addTask {
                    let bytes = Array(try JSONEncoder().encode(body))
                    let accepted = (try? await deliver(bytes, PaymentWebhookBody.signature(of: bytes, secret: configuration.webhookSecret))) ?? false
                    if accepted {
                        _ = try await database.query("UPDATE sim_deliveries SET delivered_at = now() WHERE id = $1", [.int(delivery)])
                    }
                }
            }
            try await group.waitForAll()
        }
        return due.count
    }
}
