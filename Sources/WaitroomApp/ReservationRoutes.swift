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

    /// `{"items": [{"ticketClassId", "quantity"}]}`; unknown members are ignored.
    struct ReserveBody {
        var items: [ReservationItem]

        init(_ request: HTTPRequest) throws {
            guard let list = try request.parseJSON()["items"]?.array else { throw HTTPRequest.notExpectedJSON }
            items = []
            items.reserveCapacity(list.count)
            for element in list {
                guard let id = element["ticketClassId"]?.string, let quantity = element["quantity"]?.int else {
                    throw HTTPRequest.notExpectedJSON
                }
                items.append(ReservationItem(ticketClassId: id, quantity: quantity))
            }
        }
    }

    /// `{"payment": {"method", "simulate"?}}`; unknown members are ignored.
    struct ConfirmBody {
        var method: String
        var simulate: String?

        init(_ request: HTTPRequest) throws {
            guard let payment = try request.parseJSON()["payment"], let method = payment["method"]?.string else {
                throw HTTPRequest.notExpectedJSON
            }
            self.method = method
            switch payment["simulate"] {
            case nil, .null?: simulate = nil
            case .string(let value)?: simulate = value
            default: throw HTTPRequest.notExpectedJSON
            }
        }
    }

    /// The bearer token of an `Authorization` header value (`Bearer`, any case), without the
    /// spaces and tabs around it; `nil` for another scheme.
    static func bearerToken(_ header: String) -> Substring? {
        let utf8 = header.utf8
        guard utf8.count > 7 else { return nil }
        let scheme = utf8.prefix(7)
        guard zip(scheme, "bearer ".utf8).allSatisfy({ $1 == 0x20 ? $0 == 0x20 : ($0 | 0x20) == $1 }) else { return nil }
        var token = Substring(header).dropFirst(7)
        while let first = token.utf8.first, first == 0x20 || first == 0x09 { token = token.dropFirst() }
        while let last = token.utf8.last, last == 0x20 || last == 0x09 { token = token.dropLast() }
        return token
    }

    /// The bearer admission token: for `eventID`, or for any event when the route names none.
    func admission(_ request: HTTPRequest, eventID: String?) throws -> SignedToken {
        guard let header = request.headers.first(name: "Authorization"), let token = Self.bearerToken(header) else {
            throw HTTPError(.unauthorized, code: "invalid_token", message: "an admission token is required (Authorization: Bearer)",
                            headers: ["WWW-Authenticate": "Bearer"])
        }
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
        return .json(raw: InventoryOutcome.bodyJSON(body), status: status, headers: headers)
    }

    /// Throws `HTTPConnectionHandOff` when another worker combines the reservation's classes and
    /// the connection can go there.
    func handOffIfOwnedElsewhere(_ reservationID: String, token: SignedToken, context: RequestContext) async throws {
        guard context.canHandOff,
              let owner = try await service.remoteOwner(reservationID: reservationID, eventID: token.eventID,
                                                        holder: Int64(bitPattern: token.sequence)) else { return }
        throw HTTPConnectionHandOff(target: owner)
    }

    func register(on router: inout Router) {
        let routes = self
        // With several workers, a connection whose hold's classes another worker combines is
        // handed to that worker (`ConnectionHandoff`): it, and every later request on it, is
        // served where its batches run instead of each operation being forwarded there.
        router.post("/v1/events/{eventId}/reservations") { request, context in
            let event = try request.pathParameters.require("eventId")
            let token = try routes.admission(request, eventID: event)
            let key = try routes.idempotencyKey(request)
            let body = try ReserveBody(request)
            if context.canHandOff, let owner = routes.service.remoteOwner(eventID: event, items: body.items) {
                throw HTTPConnectionHandOff(target: owner)
            }
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
            return .json(raw: InventoryOutcome.bodyJSON(body))
        }
        router.delete("/v1/reservations/{reservationId}") { request, context in
            let id = try request.pathParameters.require("reservationId")
            let token = try routes.admission(request, eventID: nil)
            try await routes.handOffIfOwnedElsewhere(id, token: token, context: context)
            return try routes.response(try await routes.service.release(
                reservationID: id, eventID: token.eventID, holder: Int64(bitPattern: token.sequence)))
        }
        router.post("/v1/reservations/{reservationId}/confirm") { request, context in
            let id = try request.pathParameters.require("reservationId")
            let token = try routes.admission(request, eventID: nil)
            let key = try routes.idempotencyKey(request)
            let body = try ConfirmBody(request)
            try await routes.handOffIfOwnedElsewhere(id, token: token, context: context)
            return try routes.response(try await routes.service.confirm(
                reservationID: id, eventID: token.eventID, holder: Int64(bitPattern: token.sequence),
                payment: .init(method: body.method, simulate: body.simulate), idempotencyKey: key))
        }
    }
}
