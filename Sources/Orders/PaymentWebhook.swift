import Foundation
import Logging
import Postgres
import Tokens

/// The body a provider posts to `POST /v1/payments/webhook` (signed: `X-Payment-Signature` is
/// the hex HMAC-SHA256 of the raw body with the shared secret).
public struct PaymentWebhookBody: Codable, Sendable, Equatable {
    public var paymentId: String
    public var orderId: String
    /// `succeeded` or `failed`.
    public var status: String
    public var amountCents: Int64

    public init(paymentId: String, orderId: String, status: String, amountCents: Int64) {
        self.paymentId = paymentId
        self.orderId = orderId
        self.status = status
        self.amountCents = amountCents
    }

    /// Whether the ids are text an order row can hold: 1 to 200 bytes, no control characters.
    public var hasPlainIDs: Bool {
        [paymentId, orderId].allSatisfy { id in
            (1...200).contains(id.utf8.count) && !id.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
        }
    }

    /// The signature header value of `body` under `secret`.
    public static func signature(of body: some Collection<UInt8>, secret: [UInt8]) -> String {
        Crypto.hex(Crypto.hmacSHA256(key: secret, message: body))
    }
}

/// Applies payment results to orders. A duplicate has no second effect (every transition
/// expects the state it leaves); a payment that lands after its order was cancelled is marked
/// for refund; a bad signature, an unknown payment or a wrong amount is refused and logged.
public struct PaymentWebhookHandler: Sendable {
    /// What a delivery did.
    public enum Effect: String, Sendable { case paid, declined, refundScheduled = "refund_scheduled", duplicate }

    private let database: PostgresClient
    private let secret: [UInt8]
    private let logger: Logger

    public init(database: PostgresClient, secret: [UInt8], logger: Logger) {
        self.database = database
        self.secret = secret
        self.logger = logger
    }

    public func handle(body: [UInt8], signature: String?) async throws -> Effect {
        let expected = Array(PaymentWebhookBody.signature(of: body, secret: secret).utf8)
        guard let signature, Crypto.constantTimeEquals(Array(signature.lowercased().utf8), expected) else {
            logger.warning("payment webhook with a bad signature refused", metadata: ["bytes": "\(body.count)"])
            throw OrdersError(.invalidSignature, "the X-Payment-Signature does not match the body")
        }
        guard let event = try? JSONDecoder().decode(PaymentWebhookBody.self, from: Data(body)),
              event.status == "succeeded" || event.status == "failed", event.hasPlainIDs else {
            throw OrdersError(.invalidPayload, "expected {paymentId, orderId, status: succeeded|failed, amountCents}")
        }
        let rows = try await database.query(
            "SELECT status, amount_cents, payment_id, refund FROM orders WHERE id = $1", [.string(event.orderId)])
        guard let row = rows.first else {
            logger.warning("payment webhook for an unknown order refused", metadata: ["saga.id": "\(event.orderId)", "payment": "\(event.paymentId)"])
            throw OrdersError(.unknownPayment, "no order \(event.orderId)")
        }
        let status = try row.decode(String.self, at: 0)
        let amount = try row.decode(Int64.self, at: 1)
        if let known = try row.decode(String?.self, at: 2), known != event.paymentId {
            logger.warning("payment webhook for another payment refused",
                           metadata: ["saga.id": "\(event.orderId)", "payment": "\(event.paymentId)", "expected": "\(known)"])
            throw OrdersError(.unknownPayment, "order \(event.orderId) has another payment")
        }
        guard amount == event.amountCents else {
            logger.warning("payment webhook with a wrong amount refused",
                           metadata: ["saga.id": "\(event.orderId)", "amount": "\(event.amountCents)", "expected": "\(amount)"])
            throw OrdersError(.amountMismatch, "amount \(event.amountCents) does not match the order's \(amount)")
        }
        let refund = try row.decode(String?.self, at: 3)
        let transition: (expect: [String], status: String, release: Bool, reason: String?, refund: String?, topic: String, effect: Effect)
        switch (event.status, status) {
        case ("succeeded", "pending"), ("succeeded", "awaiting_payment"):
            transition = (["pending", "awaiting_payment"], "paid", false, nil, nil, "order.paid", .paid)
        case ("succeeded", "cancelled") where refund == nil:
            // Paid after the order gave up (payment timeout or an earlier decline): never keep
            // money without tickets.
            transition = (["cancelled"], "cancelled", false, nil, "pending", "order.refund_pending", .refundScheduled)
        case ("failed", "pending"), ("failed", "awaiting_payment"):
            transition = (["pending", "awaiting_payment"], "cancelled", true, "payment_declined", nil, "order.cancelled", .declined)
        default:
            return .duplicate
        }
        let replies = try await database.transactionPipeline([
            PostgresStatement("UPDATE orders SET payment_id = coalesce(payment_id, $2) WHERE id = $1",
                              [.string(event.orderId), .string(event.paymentId)]),
            PostgresStatement("SELECT orders_transition($1, NULL, string_to_array($2, ','), $3, $4, $5, $6, $7)", [
                .string(event.orderId), .string(transition.expect.joined(separator: ",")), .string(transition.status),
                .bool(transition.release), transition.reason.map { .string($0) } ?? .null,
                transition.refund.map { .string($0) } ?? .null, .string(transition.topic),
            ]),
        ])
        let result = try replies[1].first?.decode(String.self, at: 0) ?? "skipped"
        logger.debug("payment webhook applied", metadata: ["saga.id": "\(event.orderId)", "result": "\(result)"])
        return result == "ok" ? transition.effect : .duplicate
    }
}
