/// A payment provider as the saga sees it. Both calls are idempotent on the provider's side
/// (keyed by the order), so a step retried after a crash never charges or refunds twice. The
/// result of a payment arrives later through the webhook.
public protocol PaymentProvider: Sendable {
    /// Creates (or finds) the payment of `orderID`; returns the provider's payment id.
    func createPayment(orderID: String, amountCents: Int64, simulate: String?) async throws -> String
    /// Refunds the payment in full (again: no second refund).
    func refund(paymentID: String, amountCents: Int64) async throws
}

/// An error of the Orders domain.
public struct OrdersError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public static let invalidSignature = Code(name: "invalid_signature")
        public static let invalidPayload = Code(name: "invalid_payload")
        public static let unknownPayment = Code(name: "unknown_payment")
        public static let amountMismatch = Code(name: "amount_mismatch")
        public static let provider = Code(name: "provider_error")
        public var description: String { name }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
