import Edge
import FastJSON
import Foundation
import Inventory
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import Orders
import Tokens
import Waitroom

/// The queue's public routes (join, status, stream, leave) and the admin routes that steer
/// admission, over the queue store, this process's trackers and its SSE hub.
struct QueueRoutes: Sendable {
    let store: QueueStore
    let trackers: TrackerRegistry
    let hub: SSEHub
    let keyring: SigningKeyring
    let catalog: EventCatalog
    let presence = StreamPresence()
    let limiter: AddressRateLimiter?
    let trustedProxies: TrustedProxies
    let joinBatcher: JoinBatcher
    let presenceBatcher: PresenceBatcher
    /// The states read when streams open, one script call per event and tick.
    let stateBatcher: StateBatcher
    let abandonAfterSeconds: Int
    let logger: Logger
    private let joins = Counter(label: "waitroom_joins_total")
    /// The event's order counts for the stats (set when the Orders are wired in).
    var orderCounts: (@Sendable (String) async throws -> OrderBook.Counts)?

    init(store: QueueStore, trackers: TrackerRegistry, hub: SSEHub, keyring: SigningKeyring, catalog: EventCatalog,
         joinRatePerAddress: Double?, trustedProxies: TrustedProxies = .none, abandonAfterSeconds: Int, logger: Logger) {
        self.store = store
        self.trackers = trackers
        self.hub = hub
        self.keyring = keyring
        self.catalog = catalog
        self.joinBatcher = JoinBatcher(store: store)
        self.presenceBatcher = PresenceBatcher(store: store, edgeID: trackers.edgeID, logger: logger)
        self.stateBatcher = StateBatcher(store: store)
        self.limiter = joinRatePerAddress.map { AddressRateLimiter(ratePerSecond: $0, burst: max(1, $0 * 2)) }
        self.trustedProxies = trustedProxies
        self.abandonAfterSeconds = abandonAfterSeconds
        self.logger = logger
    }

    struct StatusBody: Encodable {
        struct Admission: Encodable { var token: String; var expiresAt: String }
        var ticket: String?
        var state: String
        var position: Int?
        var etaSeconds: Int?
        var admission: Admission?

        enum CodingKeys: String, CodingKey { case ticket, state, position, etaSeconds, admission }

        // `position` and `etaSeconds` are always present (null when unknown), as the contract lists them.
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encodeIfPresent(ticket, forKey: .ticket)
            try c.encode(state, forKey: .state)
            try c.encode(position, forKey: .position)
            try c.encode(etaSeconds, forKey: .etaSeconds)
            try c.encodeIfPresent(admission, forKey: .admission)
        }

        /// The same JSON as ``encode(to:)`` with `JSONEncoder`, written by hand (the hot path).
        var json: String {
            var out = "{"
            if let ticket {
                out.append("\"ticket\":")
                JSONWriter.appendString(ticket, to: &out)
                out.append(",")
            }
            out.append("\"state\":")
            JSONWriter.appendString(state, to: &out)
            out.append(",\"position\":")
            out.append(position.map(String.init) ?? "null")
            out.append(",\"etaSeconds\":")
            out.append(etaSeconds.map(String.init) ?? "null")
            if let admission {
                out.append(",\"admission\":{\"token\":")
                JSONWriter.appendString(admission.token, to: &out)
                out.append(",\"expiresAt\":")
                JSONWriter.appendString(admission.expiresAt, to: &out)
                out.append("}")
            }
            out.append("}")
            return out
        }
    }


    /// The place a ticket names; a forged, foreign or malformed ticket is `404 ticket_not_found`.
    func place(_ request: HTTPRequest) throws -> (event: String, seq: Int) {
        let event = try request.pathParameters.require("eventId")
        let ticket = try request.pathParameters.require("ticket")
        do {
            let token = try SignedToken.verify(ticket, purpose: .ticket, eventID: event,
                                               now: UInt64(Date().timeIntervalSince1970), keyring: keyring)
            return (event, Int(token.sequence))
        } catch {
            throw HTTPError(.notFound, code: "ticket_not_found", message: "no such ticket")
        }
    }

    private func admission(event: String, order: Int?, expiresAtMs: Int64?) -> StatusBody.Admission? {
        guard let order, let expiresAtMs else { return nil }
        return .init(token: QueuePresenter.admissionToken(eventID: event, order: order, expiresAtMs: expiresAtMs, keyring: keyring),
                     expiresAt: QueuePresenter.rfc3339(milliseconds: expiresAtMs))
    }

    private func eta(_ tracker: EventTracker, position: Int?) -> Int? {
        guard let position else { return nil }
        return AdmissionRateEstimator.etaSeconds(position: position, rate: tracker.admissionRate)
    }

    private func joinBody(event: String, joined: JoinResult) -> StatusBody {
        let ticket = SignedToken(purpose: .ticket, eventID: event, sequence: UInt64(joined.seq)).encode(with: keyring)
        return StatusBody(ticket: ticket, state: QueuePresenter.stateName(joined.state, soldOut: false))
    }

    private func joinResponse(_ body: StatusBody, joined: JoinResult) -> HTTPResponse {
        .json(raw: body.json, status: joined.isNew ? .created : .ok)
    }

    /// The join's answer when it needs no I/O: a waiting place whose position this process's
    /// loaded tracker knows. `nil` otherwise (then ``joinAnswer(event:joined:)``).
    func joinAnswerNow(event: String, joined: JoinResult) -> HTTPResponse? {
        guard joined.state == .waiting, let order = joined.order, let tracker = trackers.loadedTracker(for: event),
              case .waiting(let position, let eta) = tracker.status(order: order) else { return nil }
        var body = joinBody(event: event, joined: joined)
        body.position = position
        body.etaSeconds = eta
        return joinResponse(body, joined: joined)
    }

    /// The join's answer in general: the tracker is loaded first if need be, and a place it
    /// cannot place (pre-queue, admitted, just departed) is read from Redis.
    func joinAnswer(event: String, joined: JoinResult) async throws -> HTTPResponse {
        var body = joinBody(event: event, joined: joined)
        if joined.state == .waiting, let order = joined.order {
            let tracker = try await trackers.tracker(for: event)
            if case .waiting(let position, let eta) = tracker.status(order: order) {
                body.position = position
                body.etaSeconds = eta
            } else if let place = try await store.state(event: event, seq: joined.seq) {
                body.position = place.position
                body.etaSeconds = eta(tracker, position: place.position)
            }
        } else if joined.state == .admitted, let place = try await store.state(event: event, seq: joined.seq) {
            body.admission = admission(event: event, order: place.order, expiresAtMs: place.admissionExpiresAtMilliseconds)
        }
        return joinResponse(body, joined: joined)
    }

    func register(on router: inout Router, admin: AdminAuthenticator) {
        let routes = self

        // On the event loop, no task: the join goes into this tick's batch (one script call per
        // event and tick); the answer is built at once when this process's tracker knows the
        // position (the usual case), else in a task.
        router.post("/v1/events/{eventId}/queue", future: { request, context in
            let event = try request.pathParameters.require("eventId")
            if let limiter = routes.limiter,
               let wait = limiter.take(routes.trustedProxies.clientAddress(
                   peer: context.remoteAddress?.ipAddress, forwardedFor: request.headers["X-Forwarded-For"])) {
                throw HTTPError(.tooManyRequests, code: "rate_limited", message: "too many joins from this address",
                                headers: ["Retry-After": String(Int(wait.rounded(.up)))])
            }
            let userId = try JoinRequestBody.userId(from: request.body)
            let eventLoop = context.eventLoop
            return routes.joinBatcher.join(event: event, userId: userId, on: eventLoop).flatMap { joined in
                routes.joins.increment()
                if let answer = routes.joinAnswerNow(event: event, joined: joined) {
                    return eventLoop.makeSucceededFuture(answer)
                }
                return eventLoop.makeFutureWithTask { try await routes.joinAnswer(event: event, joined: joined) }
            }
        })

        router.get("/v1/events/{eventId}/queue/{ticket}", ids: .only(["eventId"])) { request, _ in
            let (event, seq) = try routes.place(request)
            guard let place = try await routes.store.touch(event: event, seq: seq) else {
                throw HTTPError(.notFound, code: "ticket_not_found", message: "no such ticket")
            }
            var body = StatusBody(state: QueuePresenter.stateName(place.state, soldOut: place.soldOut))
            switch place.state {
            case .waiting where !place.soldOut:
                body.position = place.position
                body.etaSeconds = routes.eta(try await routes.trackers.tracker(for: event), position: place.position)
            case .admitted:
                body.admission = routes.admission(event: event, order: place.order, expiresAtMs: place.admissionExpiresAtMilliseconds)
            default:
                break
            }
            return .json(raw: body.json)
        }

        router.get("/v1/events/{eventId}/queue/{ticket}/stream", ids: .only(["eventId"])) { request, context in
            let (event, seq) = try routes.place(request)
            guard let place = try await routes.stateBatcher.state(event: event, seq: seq, on: context.eventLoop).get() else {
                throw HTTPError(.notFound, code: "ticket_not_found", message: "no such ticket")
            }
            let lastEventID = SSEEncoder.lastEventID(from: request.headers)
            if place.soldOut && place.state == .waiting {
                return routes.hub.response(eventID: event, key: -seq, lastEventID: lastEventID,
                                           initial: .final(SSEEvent(name: "sold_out", data: "{}")))
            }
            switch place.state {
            case .admitted:
                let data = QueuePresenter.admissionJSON(eventID: event, order: place.order ?? 0,
                                                        expiresAtMs: place.admissionExpiresAtMilliseconds ?? 0, keyring: routes.keyring)
                return routes.hub.response(eventID: event, key: place.order ?? -seq, lastEventID: lastEventID,
                                           initial: .final(SSEEvent(name: "admitted", data: data)))
            case .waiting:
                break
            default:
                throw HTTPError(.notFound, code: "ticket_not_found", message: "this place is no longer in the queue")
            }
            let tracker = try await routes.trackers.tracker(for: event)
            guard let order = place.order else {
                // Pre-queue: no order until the lottery at opening; the stream is ended then, and
                // the browser reconnects to follow its drawn place.
                return routes.hub.response(eventID: event, key: -seq, lastEventID: lastEventID,
                                           initial: .latest(SSEEvent(name: "position", data: "{\"position\":null,\"etaSeconds\":null}")))
            }
            if routes.presence.open(event: event, order: order) {
                _ = try await routes.presenceBatcher.connect(event: event, order: order, on: context.eventLoop).get()
            }
            var stream = routes.hub.stream(eventID: event, key: order, lastEventID: lastEventID,
                                           initial: QueuePresenter.streamUpdate(eventID: event, order: order,
                                                                                status: tracker.status(order: order), keyring: routes.keyring,
                                                                                tickMicros: routes.trackers.positionTimestamp(tracker)))
            let start = stream.start
            // The close callback lives as long as the stream: it keeps what it needs, not `routes`.
            let (presence, batcher, eventLoop) = (routes.presence, routes.presenceBatcher, context.eventLoop)
            stream.start = { writer in
                start(writer)
                writer.closeFuture.whenComplete { _ in
                    guard presence.close(event: event, order: order) else { return }
                    batcher.disconnect(event: event, order: order, on: eventLoop)
                }
            }
            return .stream(headers: SSEEncoder.headers, stream)
        }

        router.delete("/v1/events/{eventId}/queue/{ticket}", ids: .only(["eventId"])) { request, _ in
            let (event, seq) = try routes.place(request)
            let place = try await routes.store.state(event: event, seq: seq)
            guard try await routes.store.leave(event: event, seq: seq) != nil else {
                throw HTTPError(.notFound, code: "ticket_not_found", message: "no such ticket")
            }
            if let order = place?.order { routes.hub.finish(eventID: event, key: order) }
            return .status(.noContent)
        }

        router.patch("/v1/admin/events/{eventId}/admission") { request, _ in
            try admin.authorize(request)
            let event = try request.pathParameters.require("eventId")
            let patch: AdmissionPatch = try request.decodeJSON()
            guard var settings = try await routes.store.settings(event: event) else {
                throw HTTPError(.notFound, code: "event_not_found", message: "no event '\(event)'")
            }
            try patch.apply(to: &settings)
            try await routes.catalog.updateAdmission(eventID: event, ratePerSecond: settings.ratePerSecond,
                                                     maxActive: settings.maxActive, sessionSeconds: settings.sessionSeconds,
                                                     paused: settings.paused)
            _ = try await routes.store.configure(event: event, settings: settings)
            return try .json(AdmissionPatch.Response(settings))
        }

        router.get("/v1/admin/events/{eventId}/stats") { request, _ in
            try admin.authorize(request)
            let event = try request.pathParameters.require("eventId")
            guard let definition = try await routes.catalog.event(id: event) else {
                throw HTTPError(.notFound, code: "event_not_found", message: "no event '\(event)'")
            }
            let stats = try await routes.store.stats(event: event)
            let stock = try await routes.catalog.stock(eventID: event)
            let rates = await routes.rates.sample(event: event, joins: stats.joinsTotal, admitted: stats.admittedTotal)
            var body = EventStatsBody(definition: definition, stats: stats, stock: stock, rates: rates)
            if let counts = routes.orderCounts { body.orders = try await counts(event) }
            return try .json(body)
        }
    }

    let rates = RateSampler()
}
