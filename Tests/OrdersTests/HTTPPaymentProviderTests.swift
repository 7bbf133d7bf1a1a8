import Foundation
import Synchronization
import Testing
@testable import Orders

@Suite("HTTP payment provider adapter") struct HTTPPaymentProviderTests {
    final class FakeProvider: Sendable {
        let requests = Mutex<[(url: String, body: String, headers: [String: String])]>([])
        let reply: @Sendable (String) -> (Int, String)
        init(reply: @escaping @Sendable (String) -> (Int, String)) { self.reply = reply }

        var transport: HTTPPaymentProvider.Transport {
            { url, body, headers in
                self.requests.withLock {
                    $0.append((url, String(decoding: body, as: UTF8.self), Dictionary(headers, uniquingKeysWith: { $1 })))
                }
                let (status, text) = self.reply(url)
                return (status, Array(text.utf8))
            }
        }
    }

    @Test func createsPaymentsIdempotentlyAndRefunds() async throws {
        let fake = FakeProvider { url in url.hasSuffix("/refunds") ? (200, "{}") : (201, #"{"id":"pp_1","amountCents":4500}"#) }
        let provider = HTTPPaymentProvider(baseURL: "http://127.0.0.1:9/api/", apiKey: "sk_test", transport: fake.transport)
        #expect(try await provider.createPayment(orderID: "o_1", amountCents: 4_500, simulate: nil) == "pp_1")
        try await provider.refund(paymentID: "pp_1", amountCents: 4_500)
        let sent = fake.requests.withLock { $0 }
        #expect(sent.map(\.url) == ["http://127.0.0.1:9/api/payments", "http://127.0.0.1:9/api/payments/pp_1/refunds"])
        #expect(sent[0].headers["Idempotency-Key"] == "o_1")
        #expect(sent[1].headers["Idempotency-Key"] == "refund-pp_1")
        #expect(sent.allSatisfy { $0.headers["Authorization"] == "Bearer sk_test" })
        #expect(sent[0].body == #"{"amountCents":4500,"orderId":"o_1"}"#)
    }

    @Test func refusesWrongAmountsAndFailures() async throws {
        let wrong = HTTPPaymentProvider(baseURL: "http://x", apiKey: nil,
                                        transport: FakeProvider { _ in (200, #"{"id":"pp_1","amountCents":1}"#) }.transport)
        await #expect(throws: OrdersError.self) { _ = try await wrong.createPayment(orderID: "o", amountCents: 2, simulate: nil) }
        let down = HTTPPaymentProvider(baseURL: "http://x", apiKey: nil, transport: FakeProvider { _ in (503, "") }.transport)
        await #expect(throws: OrdersError.self) { _ = try await down.createPayment(orderID: "o", amountCents: 2, simulate: nil) }
        await #expect(throws: OrdersError.self) { try await down.refund(paymentID: "p", amountCents: 2) }
        let garbage = HTTPPaymentProvider(baseURL: "http://x", apiKey: nil, transport: FakeProvider { _ in (200, "<html>") }.transport)
        await #expect(throws: OrdersError.self) { _ = try await garbage.createPayment(orderID: "o", amountCents: 2, simulate: nil) }
    }
}
