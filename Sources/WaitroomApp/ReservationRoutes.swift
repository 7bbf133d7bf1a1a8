import Edge
import Foundation
import Inventory
import NIOHTTP1
import Tokens

/// The checkout routes: reserve, read, release and confirm, authorized by the admission token
/// alone (verified here with the signing keys, no Redis call). Outcomes come from the
/// Inventory; this maps them to the contract's statuses and bodies.
struct ReservationRoutes: Sendable {
    let service: ReservationService
    let keyring: SigningKeyring

    struct ReserveBody: Decodable { var items: [ReservationItem] }
    struct ConfirmBody: Decodable {
        struct Payment: Decodable { var method: String; var simulate: String? }
        var payment: Payment
    }

    /// The bearer admission token: for `eventID`, or for any event when the route names none.
    func admission(_ request: HTTPRequest, eventID: String?) throws -> SignedToken {
        guard let header = request.headers.first(name: "Authorization"),
              header.count > 7, header.prefix(7).lowercased() == "bearer " else {
            throw HTTPError(.unauthorized, code: "invalid_token", message: "an admission token is required (Authorization: Bearer)",
                            headers: ["WWW-Authenticate": "Bearer"])
        }
        let token = header.dropFirst(7).trimmingCharacters(in: .whitespaces)
        let now = UInt64(Date().timeIntervalSince1970)
        do {
            if let eventID {
                return try SignedToken.verify(token, purpose: .admission, eventID: eventID, now: now, keyring: keyring)
            }
            return try SignedToken.verify(token, purpose: .admission, now: now, keyring: keyring)
        } catch {
            let message = error.code == .expired ? "the admission token has expired" : "the admission token is not valid here"
            throw HTTPError(.unauthorized, code: "invalid_token", message: message,
                            headers: ["WWW-Authenticate": "Bearer error=\"invalid_token\""])
        }
    }

    /// The `Idempotency-Key` header: required, 1 to 255 visible ASCII characters.
    func idempotencyKey(_ request: HTTPRequest) throws -> String {
        guard let key = request.headers.first(name: "Idempotency-Key") else {
            throw HTTPError(.badRequest, code: "idempotency_key_required", message: "this request needs an Idempotency-Key header")
        }
        guard (1...255).contains(key.utf8.count), key.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            throw HTTPError(.badRequest, code: "invalid_idempotency_key",
                            message: "Idempotency-Key must be 1 to 255 visible ASCII characters")
        }
        return key
    }

    /// The HTTP answer of an outcome: its status, its body or the contract's error shape, and
    /// `Server-Timing` with the batch's lock wait (load tests read it).
    func response(_ outcome: InventoryOutcome) throws -> HTTPResponse {
        var headers: HTTPHeaders = [:]
        if let wait = outcome.lockWaitMicros, let size = outcome.batchSize {
            headers.add(name: "Server-Timing", value: "lock;dur=\(Double(wait) / 1000), batch;desc=\"\(size)\"")
        }
        if outcome.replayed == true { headers.add(name: "Idempotent-Replayed", value: "true") }
        let status = HTTPResponseStatus(statusCode: outcome.status)
        if let error = outcome.error {
            var httpError = HTTPError(status, code: .init(rawValue: error), message: outcome.message ?? error)
            httpError.headers.add(contentsOf: headers)
            throw httpError
        }
        guard let body = outcome.body else { return .status(status, headers: headers) }
        return try .json(body, status: status, headers: headers)
    }

    func register(on router: inout Router) {
        let routes = self
        router.post("/v1/events/{eventId}/reservations") { request, _ in
            let event = try request.pathParameters.require("eventId")
            let token = try routes.admission(request, eventID: event)
            let key = try routes.idempotencyKey(request)
            let body = try request.decodeJSON(ReserveBody.self)
            let outcome = try await routes.service.reserve(eventID: event, holder: Int64(bitPattern: token.sequence),
                                                           items: body.items, idempotencyKey: key)
            return try routes.response(outcome)
        }
        router.get("/v1/reservations/{reservationId}") { request, _ in
            let id = try request.pathParameters.require("reservationId")
            let token = try routes.admission(request, eventID: nil)
            guard let body = try await routes.service.reservation(id: id, eventID: token.eventID,
                                                                  holder: Int64(bitPattern: token.sequence)) else {
                throw HTTPError(.notFound, code: "reservation_not_found", message: "no such reservation")
            }
            return try .json(body)
        }
        router.delete("/v1/reservations/{reservationId}") { request, _ in
            let id = try request.pathParameters.require("reservationId")
            let token = try routes.admission(request, eventID: nil)
            return try routes.response(try await routes.service.release(
                reservationID: id, eventID: token.eventID, holder: Int64(bitPattern: token.sequence)))
        }
        router.post("/v1/reservations/{reservationId}/confirm") { request, _ in
            let id = try request.pathParameters.require("reservationId")
            let token = try routes.admission(request, eventID: nil)
            let key = try routes.idempotencyKey(request)
            let body = try request.decodeJSON(ConfirmBody.self)
            return try routes.response(try await routes.service.confirm(
                reservationID: id, eventID: token.eventID, holder: Int64(bitPattern: token.sequence),
                payment: .init(method: body.payment.method, simulate: body.payment.simulate), idempotencyKey: key))
        }
    }
}
