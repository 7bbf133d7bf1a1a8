import Edge
import Foundation
import NIOHTTP1
import Orders

/// `POST /v1/payments/webhook` (the provider's signed result) and `GET /v1/orders/{orderId}`
/// (the buyer's view, with the admission token).
struct OrderRoutes: Sendable {
    let book: OrderBook
    let webhook: PaymentWebhookHandler
    let reservations: ReservationRoutes

    struct Received: Encodable { var received = true; var effect: String }

    func register(on router: inout Router) {
        let routes = self
        router.post("/v1/payments/webhook") { request, _ in
            let effect = try await routes.webhook.handle(body: Array(request.body.readableBytesView),
                                                         signature: request.headers.first(name: "X-Payment-Signature"))
            return try .json(Received(effect: effect.rawValue))
        }
        router.get("/v1/orders/{orderId}") { request, _ in
            let id = try request.pathParameters.require("orderId")
            let token = try routes.reservations.admission(request, eventID: nil)
            guard let order = try await routes.book.order(id: id, eventID: token.eventID, holder: Int64(bitPattern: token.sequence)) else {
                throw HTTPError(.notFound, code: "order_not_found", message: "no such order")
            }
            return try .json(order)
        }
    }
}

extension OrdersError: HTTPErrorConvertible {
    public var httpError: HTTPError {
        switch code {
        case .invalidSignature: return HTTPError(.unauthorized, code: "invalid_signature", message: message)
        case .invalidPayload: return HTTPError(.badRequest, code: "invalid_payload", message: message)
        case .unknownPayment: return HTTPError(.notFound, code: "unknown_payment", message: message)
        case .amountMismatch: return HTTPError(.unprocessableEntity, code: "amount_mismatch", message: message)
        default: return HTTPError(.badGateway, code: "provider_error", message: message)
        }
    }
}
