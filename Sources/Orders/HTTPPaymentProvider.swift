import Foundation

/// A payment provider reached over HTTP (the adapter for a real one). The protocol it speaks:
///
/// - `POST {base}/payments` `{"orderId", "amountCents"}` with `Idempotency-Key: <orderId>` →
///   `2xx {"id", "amountCents"}`: the provider makes one payment per order, however often asked;
/// - `POST {base}/payments/{id}/refunds` `{"amountCents"}` with `Idempotency-Key: refund-<id>` → `2xx`;
/// - the result comes later to `POST /v1/payments/webhook`, signed with the shared secret
///   (checked by `PaymentWebhookHandler`, with the amount).
///
/// The transport is injected (the server passes its HTTP client; tests a fake).
public struct HTTPPaymentProvider: PaymentProvider {
    public typealias Transport = @Sendable (_ url: String, _ body: [UInt8], _ headers: [(String, String)]) async throws
        -> (status: Int, body: [UInt8])

    private let baseURL: String
    private let apiKey: String?
    private let transport: Transport

    public init(baseURL: String, apiKey: String?, transport: @escaping Transport) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.apiKey = apiKey
        self.transport = transport
    }

    private struct Created: Decodable { var id: String; var amountCents: Int64 }

    public func createPayment(orderID: String, amountCents: Int64, simulate: String?) async throws -> String {
        let body = try JSONSerialization.data(withJSONObject: ["orderId": orderID, "amountCents": amountCents], options: [.sortedKeys])
        let (status, reply) = try await transport(baseURL + "/payments", Array(body), headers(key: orderID))
        guard (200..<300).contains(status) else {
            throw OrdersError(.provider, "creating the payment of \(orderID) answered \(status)")
        }
        guard let created = try? JSONDecoder().decode(Created.self, from: Data(reply)) else {
            throw OrdersError(.provider, "the provider's payment of \(orderID) is not readable")
        }
        guard created.amountCents == amountCents else {
            throw OrdersError(.amountMismatch, "the provider made a payment of \(created.amountCents), not \(amountCents)")
        }
        return created.id
    }

    public func refund(paymentID: String, amountCents: Int64) async throws {
        let body = try JSONSerialization.data(withJSONObject: ["amountCents": amountCents])
        let (status, _) = try await transport(baseURL + "/payments/\(paymentID)/refunds", Array(body), headers(key: "refund-" + paymentID))
        guard (200..<300).contains(status) else {
            throw OrdersError(.provider, "refunding \(paymentID) answered \(status)")
        }
    }

    private func headers(key: String) -> [(String, String)] {
        var headers = [("Idempotency-Key", key)]
        if let apiKey { headers.append(("Authorization", "Bearer " + apiKey)) }
        return headers
    }
}
