import Foundation
import Inventory
import Postgres
import PostgresTestSupport
import Synchronization
import Testing
@testable import Orders

/// The order saga against a real PostgreSQL: each test in its own schema, the simulator's
/// webhooks delivered to the handler (signature checked) instead of over HTTP.
@Suite("Order saga against PostgreSQL") struct OrderSagaTests {
    static let secret = Array("test-webhook-secret-0123456789abcdef".utf8)

    struct Harness {
        var client: PostgresClient
        var schema: String
        var reservations: ReservationService
        var configuration: OrdersConfiguration
        var handler: PaymentWebhookHandler
        var provider: SimulatedPaymentProvider
        var webhooks: SimulatedPaymentWebhooks

        func coordinator(_ owner: String, client: PostgresClient? = nil, provider: (any PaymentProvider)? = nil,
                         finished: (@Sendable (String, Int64) async -> Void)? = nil) -> OrderCoordinator {
            OrderCoordinator(database: client ?? self.client, provider: provider ?? self.provider, configuration: configuration,
                             logger: TestDatabase.logger, owner: owner, admissionFinished: finished ?? { _, _ in })
        }

        /// Holds and confirms `quantity` tickets for `holder`; returns the order id.
        func order(holder: Int64, quantity: Int = 2, simulate: String = "approve") async throws -> String {
            let held = try await reservations.reserve(eventID: "gig", holder: holder, items: [.init(ticketClassId: "ga", quantity: quantity)],
                                                      idempotencyKey: "r\(holder)")
            let confirmed = try await reservations.confirm(reservationID: try #require(held.body?.reservationId), eventID: "gig", holder: holder,
                                                           payment: .init(method: "card", simulate: simulate), idempotencyKey: "c\(holder)")
            return try #require(confirmed.body?.orderId)
        }

        func status(_ order: String) async throws -> String {
            try await client.query("SELECT status FROM orders WHERE id = $1", [.string(order)]).first!.decode(String.self, at: 0)
        }

        func value<T: PostgresDecodable>(_ sql: String, _ params: [PostgresValue] = [], as: T.Type = T.self) async throws -> T {
            try await client.query(sql, params).first!.decode(T.self, at: 0)
        }

        /// Runs coordinator rounds and webhook deliveries until `done` or the time is up.
        func drive(_ coordinators: [OrderCoordinator], until done: () async throws -> Bool, limit: Duration = .seconds(20)) async throws {
            let start = ContinuousClock.now
            while try await !done() {
                guard ContinuousClock.now - start < limit else { Issue.record("saga did not get there in \(limit)"); return }
                for c in coordinators { try await c.runOnce() }
                try await webhooks.deliverDue()
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    private func withSaga(paymentTimeout: Duration = .seconds(30), latency: Duration = .milliseconds(30),
                          duplicateRate: Double = 1.0, capacity: Int = 100,
                          _ body: (Harness) async throws -> Void) async throws {
        try await TestDatabase.withSchema(poolSize: 6) { client, schema in
            _ = try await Migrator(client: client, migrations: InventoryMigrations.all + OrdersMigrations.all,
                                   logger: TestDatabase.logger).migrate()
            _ = try await EventCatalog(database: client).upsert(EventDefinition(
                id: "gig", name: "Gig", ticketClasses: [.init(id: "ga", name: "GA", capacity: capacity, priceCents: 1_500)],
                admission: .init(ratePerSecond: 10, maxActive: 100, sessionSeconds: 600)))
            let configuration = OrdersConfiguration(paymentTimeout: paymentTimeout, leaseDuration: .seconds(5),
                                                    pollInterval: .milliseconds(100), maxAttempts: 3, retryBase: .milliseconds(10),
                                                    retryCap: .milliseconds(50), webhookSecret: Self.secret,
                                                    simulatedLatency: latency, simulatedDuplicateRate: duplicateRate)
            let handler = PaymentWebhookHandler(database: client, secret: Self.secret, logger: TestDatabase.logger)
            let webhooks = SimulatedPaymentWebhooks(database: client, configuration: configuration, logger: TestDatabase.logger) { body, signature in
                do {
                    _ = try await handler.handle(body: body, signature: signature)
                    return true
                } catch {
                    return false
                }
            }
            try await body(Harness(client: client, schema: schema,
                                   reservations: ReservationService(database: client, configuration: .init(ticketsPerAdmission: 0),
                                                                    logger: TestDatabase.logger),
                                   configuration: configuration, handler: handler,
                                   provider: SimulatedPaymentProvider(database: client, configuration: configuration),
                                   webhooks: webhooks))
            let report = try await InventoryChecker(database: client).check()
            #expect(report.violations == [])
        }
    }

    @Test func happyPathIssuesTicketsOnceAndEndsTheAdmission() async throws {
        let finished = Mutex<[Int64]>([])
        try await withSaga { h in
            let order = try await h.order(holder: 7, quantity: 3)
            #expect(try await h.status(order) == "pending")
            let c = h.coordinator("a", finished: { _, holder in finished.withLock { $0.append(holder) } })
            try await c.runOnce()
            #expect(try await h.status(order) == "awaiting_payment")
            try await h.drive([c]) { try await h.status(order) == "completed" }
            // The duplicate (late) webhook comes too, and changes nothing.
            try await Task.sleep(for: .milliseconds(1_800))
            try await h.webhooks.deliverDue()
            try await c.runOnce()
            #expect(try await h.status(order) == "completed")
            let view = try #require(try await OrderBook(database: h.client).order(id: order, eventID: "gig", holder: 7))
            #expect(view.tickets.count == 3)
            #expect(Set(view.tickets.map(\.code)).count == 3)
            #expect(view.tickets.allSatisfy { $0.code.hasPrefix("T") && $0.code.count == 33 && $0.ticketClassId == "ga" })
            #expect(try await OrderBook(database: h.client).order(id: order, eventID: "gig", holder: 8) == nil)
            #expect(try await h.value("SELECT charges FROM sim_payments WHERE order_id = $1", [.string(order)], as: Int.self) == 1)
            #expect(try await h.value("SELECT count(*) FROM sim_deliveries WHERE delivered_at IS NOT NULL", as: Int.self) == 2)
            let topics = try await h.client.query("SELECT topic FROM outbox WHERE payload->>'orderId' = $1 ORDER BY id", [.string(order)])
                .map { try $0.decode(String.self, at: 0) }
            #expect(topics == ["order.awaiting_payment", "order.paid", "order.completed"])
            #expect(finished.withLock { $0 } == [7])
            let stock = try await EventCatalog(database: h.client).stock(eventID: "gig")
            #expect(stock.first?.sold == 3 && stock.first?.held == 0)
        }
    }

    @Test func declineCancelsAndGivesTheTicketsBack() async throws {
        try await withSaga { h in
            let order = try await h.order(holder: 1, quantity: 4, simulate: "decline")
            let c = h.coordinator("a")
            try await h.drive([c]) { try await h.status(order) == "cancelled" }
            #expect(try await h.value("SELECT failure_reason FROM orders WHERE id = $1", [.string(order)], as: String.self) == "payment_declined")
            let stock = try await EventCatalog(database: h.client).stock(eventID: "gig")
            #expect(stock.first?.sold == 0 && stock.first?.held == 0)
            #expect(try await h.value("SELECT r.status FROM reservations r JOIN orders o ON o.reservation_id = r.id WHERE o.id = $1",
                                      [.string(order)], as: String.self) == "released")
            let view = try await OrderBook(database: h.client).order(id: order, eventID: "gig", holder: 1)
            #expect(view?.status == "cancelled" && view?.failureReason == "payment_declined" && view?.tickets == [])
        }
    }

    @Test func orderStatusGaugesCountEveryState() async throws {
        try await withSaga { h in
            let gauges = OrderStatusGauges(database: h.client, logger: TestDatabase.logger)
            #expect(try await gauges.sampleOnce() == Dictionary(uniqueKeysWithValues: OrderStatusGauges.states.map { ($0, 0) }))
            let approved = try await h.order(holder: 1, quantity: 1)
            let declined = try await h.order(holder: 2, quantity: 1, simulate: "decline")
            _ = try await h.order(holder: 3, quantity: 1)
            var counts = try await gauges.sampleOnce()
            #expect(counts["pending"] == 3 && counts["completed"] == 0)
            let c = h.coordinator("a")
            try await h.drive([c]) {
                let first = try await h.status(approved), second = try await h.status(declined)
                return first == "completed" && second == "cancelled"
            }
            counts = try await gauges.sampleOnce()
            let total = try await h.value("SELECT count(*) FROM orders", as: Int.self)
            #expect(counts["cancelled"] == 1 && counts["completed"]! >= 1 && counts["needs_attention"] == 0)
            #expect(counts.filter { $0.key != "needs_attention" }.values.reduce(0, +) == total)
        }
    }

    @Test func paymentTimeoutCancels() async throws {
        try await withSaga(paymentTimeout: .milliseconds(300)) { h in
            let order = try await h.order(holder: 1, simulate: "timeout")
            let c = h.coordinator("a")
            try await h.drive([c]) { try await h.status(order) == "cancelled" }
            #expect(try await h.value("SELECT failure_reason FROM orders WHERE id = $1", [.string(order)], as: String.self) == "payment_timeout")
            #expect(try await EventCatalog(database: h.client).stock(eventID: "gig").first?.sold == 0)
        }
    }

    @Test func aPaymentAfterTheTimeoutIsRefundedNeverKept() async throws {
        try await withSaga(paymentTimeout: .milliseconds(200), latency: .milliseconds(900), duplicateRate: 0) { h in
            let order = try await h.order(holder: 1)
            let c = h.coordinator("a")
            try await h.drive([c]) { try await h.status(order) == "cancelled" }
            try await h.drive([c]) { try await h.status(order) == "refunded" }
            #expect(try await h.value("SELECT charges FROM sim_payments WHERE order_id = $1", [.string(order)], as: Int.self) == 1)
            #expect(try await h.value("SELECT refunds FROM sim_payments WHERE order_id = $1", [.string(order)], as: Int.self) == 1)
            #expect(try await EventCatalog(database: h.client).stock(eventID: "gig").first?.sold == 0)
            let view = try await OrderBook(database: h.client).order(id: order, eventID: "gig", holder: 1)
            #expect(view?.status == "refunded" && view?.failureReason == "payment_timeout" && view?.refund == "done")
        }
    }

    @Test func badWebhooksAreRefused() async throws {
        try await withSaga { h in
            let order = try await h.order(holder: 1)
            try await h.coordinator("a").runOnce()
            let payment = try await h.value("SELECT payment_id FROM orders WHERE id = $1", [.string(order)], as: String.self)
            func send(_ body: PaymentWebhookBody, secret: [UInt8] = Self.secret) async -> OrdersError.Code? {
                let bytes = Array(try! JSONEncoder().encode(body))
                do {
                    _ = try await h.handler.handle(body: bytes, signature: PaymentWebhookBody.signature(of: bytes, secret: secret))
                    return nil
                } catch let error as OrdersError {
                    return error.code
                } catch {
                    return .provider
                }
            }
            #expect(await send(.init(paymentId: payment, orderId: order, status: "succeeded", amountCents: 3_000),
                               secret: Array("another-secret".utf8)) == .invalidSignature)
            #expect(await send(.init(paymentId: payment, orderId: "o_nope", status: "succeeded", amountCents: 3_000)) == .unknownPayment)
            #expect(await send(.init(paymentId: "pay_other", orderId: order, status: "succeeded", amountCents: 3_000)) == .unknownPayment)
            #expect(await send(.init(paymentId: payment, orderId: order, status: "succeeded", amountCents: 1)) == .amountMismatch)
            #expect(await send(.init(paymentId: payment, orderId: order, status: "maybe", amountCents: 3_000)) == .invalidPayload)
            // Ids PostgreSQL cannot take as text (NUL) or too long are the payload's fault, not a 500.
            #expect(await send(.init(paymentId: payment, orderId: "o_\u{0}", status: "succeeded", amountCents: 3_000)) == .invalidPayload)
            #expect(await send(.init(paymentId: "p\u{0}", orderId: order, status: "succeeded", amountCents: 3_000)) == .invalidPayload)
            #expect(await send(.init(paymentId: payment, orderId: String(repeating: "o", count: 300), status: "succeeded",
                                     amountCents: 3_000)) == .invalidPayload)
            do {
                _ = try await h.handler.handle(body: Array("{}".utf8), signature: nil)
                Issue.record("accepted a webhook without a signature")
            } catch let error as OrdersError { #expect(error.code == .invalidSignature) }
            #expect(try await h.status(order) == "awaiting_payment")
            // The genuine one, twice: one effect.
            #expect(await send(.init(paymentId: payment, orderId: order, status: "succeeded", amountCents: 3_000)) == nil)
            #expect(try await h.status(order) == "paid")
            let bytes = Array(try JSONEncoder().encode(PaymentWebhookBody(paymentId: payment, orderId: order, status: "succeeded", amountCents: 3_000)))
            let again = try await h.handler.handle(body: bytes, signature: PaymentWebhookBody.signature(of: bytes, secret: Self.secret))
            #expect(again == .duplicate)
        }
    }

    @Test func aCoordinatorThatLostItsLeaseChangesNothing() async throws {
        try await withSaga { h in
            let order = try await h.order(holder: 1)
            // Another coordinator holds the lease: this one cannot claim it.
            _ = try await h.client.query("UPDATE orders SET lease_owner = 'other', lease_until = now() + interval '1 hour' WHERE id = $1",
                                         [.string(order)])
            #expect(try await h.coordinator("a").runOnce() == 0)
            // A transition fenced on a lease it does not hold is refused.
            let fenced = try await h.value("SELECT orders_transition($1, 'a', ARRAY['pending'], 'cancelled', true, 'x', NULL, 'order.cancelled')",
                                           [.string(order)], as: String.self)
            #expect(fenced == "fenced")
            #expect(try await h.status(order) == "pending")
            // The holder's lease runs out (it died): the saga resumes elsewhere, from the checkpoint.
            _ = try await h.client.query("UPDATE orders SET lease_until = now() - interval '1 second' WHERE id = $1", [.string(order)])
            let b = h.coordinator("b")
            try await h.drive([b]) { try await h.status(order) == "completed" }
        }
    }

    @Test func aStepRepeatedAfterACrashChargesOnce() async throws {
        try await withSaga { h in
            let order = try await h.order(holder: 1)
            // Coordinator "a" created the payment and died before its checkpoint.
            _ = try await h.provider.createPayment(orderID: order, amountCents: 3_000, simulate: "approve")
            _ = try await h.client.query("UPDATE orders SET lease_owner = 'a', lease_until = now() - interval '1 second' WHERE id = $1",
                                         [.string(order)])
            try await h.drive([h.coordinator("b")]) { try await h.status(order) == "completed" }
            #expect(try await h.value("SELECT charges FROM sim_payments WHERE order_id = $1", [.string(order)], as: Int.self) == 1)
            #expect(try await h.value("SELECT count(*) FROM sim_payments", as: Int.self) == 1)
        }
    }

    @Test func twoCoordinatorsNeverRunAStepTwice() async throws {
        try await withSaga(capacity: 1_000) { h in
            var orders: [String] = []
            for holder in 0..<40 {
                orders.append(try await h.order(holder: Int64(holder), quantity: 1,
                                                simulate: holder % 5 == 0 ? "decline" : "approve"))
            }
            let second = try await TestDatabase.client(poolSize: 6, schema: h.schema)
            let a = h.coordinator("a")
            let b = h.coordinator("b", client: second, provider: SimulatedPaymentProvider(database: second, configuration: h.configuration))
            let finishedStates: Set<String> = ["completed", "cancelled"]
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await h.drive([a]) { try await h.value("SELECT count(*) FROM orders WHERE status NOT IN ('completed', 'cancelled')", as: Int.self) == 0 } }
                group.addTask { try await h.drive([b]) { try await h.value("SELECT count(*) FROM orders WHERE status NOT IN ('completed', 'cancelled')", as: Int.self) == 0 } }
                try await group.waitForAll()
            }
            await second.close()
            let states = try await h.client.query("SELECT status, count(*) FROM orders GROUP BY 1 ORDER BY 1")
                .map { (try $0.decode(String.self, at: 0), try $0.decode(Int.self, at: 1)) }
            #expect(Set(states.map(\.0)).isSubset(of: finishedStates))
            #expect(states.first { $0.0 == "cancelled" }?.1 == 8)
            #expect(try await h.value("SELECT count(*) FROM sim_payments WHERE charges <> 1", as: Int.self) == 0)
            #expect(try await h.value("SELECT count(*) FROM sim_payments", as: Int.self) == 40)
            // Each transition happened once: one outbox row per order and topic.
            #expect(try await h.value("SELECT count(*) FROM (SELECT payload->>'orderId', topic FROM outbox GROUP BY 1, 2 HAVING count(*) > 1) d",
                                      as: Int.self) == 0)
            #expect(try await h.value("SELECT count(*) FROM order_tickets", as: Int.self) == 32)
            _ = orders
        }
    }

    @Test func outboxRelayDeliversEveryEventAtLeastOnce() async throws {
        try await withSaga { h in
            let order = try await h.order(holder: 1)
            try await h.drive([h.coordinator("a")]) { try await h.status(order) == "completed" }
            let seen = Mutex<[String]>([])
            let failOnce = Mutex(true)
            let relay = OutboxRelay(database: h.client, logger: TestDatabase.logger) { events in
                if failOnce.withLock({ let f = $0; $0 = false; return f }) { throw OrdersError(.provider, "sink down") }
                seen.withLock { $0 += events.map(\.topic) }
            }
            #expect(try await relay.relayOnce() == 0)   // the sink failed: nothing marked delivered
            _ = try await h.client.query("UPDATE outbox SET next_attempt_at = now()")
            #expect(try await relay.relayOnce() == 3)
            #expect(seen.withLock { $0 } == ["order.awaiting_payment", "order.paid", "order.completed"])
            #expect(try await relay.relayOnce() == 0)
        }
    }

    struct FailingProvider: PaymentProvider {
        func createPayment(orderID: String, amountCents: Int64, simulate: String?) async throws -> String {
            throw OrdersError(.provider, "provider down")
        }
        func refund(paymentID: String, amountCents: Int64) async throws { throw OrdersError(.provider, "provider down") }
    }

    @Test func aStepThatKeepsFailingNeedsAttentionButARefundRetriesForever() async throws {
        try await withSaga { h in
            let order = try await h.order(holder: 1)
            let failing = h.coordinator("a", provider: FailingProvider())
            let start = ContinuousClock.now
            while try await !h.value("SELECT needs_attention FROM orders WHERE id = $1", [.string(order)], as: Bool.self) {
                guard ContinuousClock.now - start < .seconds(10) else { Issue.record("never gave up"); return }
                try await failing.runOnce()
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try await h.value("SELECT attempts FROM orders WHERE id = $1", [.string(order)], as: Int.self) == 3)
            #expect(try await h.status(order) == "pending")
            #expect(try await OrderBook(database: h.client).counts(eventID: "gig").needsAttention == 1)
            // Given up: no coordinator claims it any more.
            #expect(try await h.coordinator("b").runOnce() == 0)

            // A refund owed (a late payment) is retried however often it fails.
            let late = try await h.order(holder: 2)
            _ = try await h.client.query("""
                UPDATE orders SET status = 'cancelled', refund = 'pending', payment_id = 'pay_x', failure_reason = 'payment_timeout'
                WHERE id = $1
                """, [.string(late)])
            for _ in 0..<6 {
                _ = try await h.client.query("UPDATE orders SET next_attempt_at = now() WHERE id = $1", [.string(late)])
                try await failing.runOnce()
            }
            #expect(try await h.value("SELECT needs_attention FROM orders WHERE id = $1", [.string(late)], as: Bool.self) == false)
            #expect(try await h.value("SELECT attempts FROM orders WHERE id = $1", [.string(late)], as: Int.self) == 6)
            #expect(try await h.value("SELECT refund FROM orders WHERE id = $1", [.string(late)], as: String.self) == "pending")
            // The tickets of the late one go back by hand here; the checker below must still agree.
            _ = try await h.client.query("""
                UPDATE ticket_classes SET sold = sold - 2 WHERE event_id = 'gig';
                """)
            _ = try await h.client.query("UPDATE reservations SET status = 'released' WHERE id = (SELECT reservation_id FROM orders WHERE id = $1)",
                                         [.string(late)])
        }
    }
}
