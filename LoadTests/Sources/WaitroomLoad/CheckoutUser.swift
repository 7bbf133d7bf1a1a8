import LoadKit
import NIOCore
import NIOHTTP1

/// One simulated buyer of an on-sale: joins the queue, holds the stream until admitted, then
/// reserves 1–4 tickets, confirms (a share decline and retry once), and polls the order until it
/// is completed or cancelled. `410 sold_out` on join, a `sold_out` event, and `409
/// insufficient_inventory` for every class are expected end states.
///
/// Confined to the worker's event loop; its connections are `UserConnection`s.
final class CheckoutUser {
    private enum Phase { case joining, streaming, checkout, done }

    private let users: OnsaleUsers
    private let index: Int
    private let userID: String
    private var phase = Phase.joining
    private var connection: UserConnection?
    private var pending: UserRequest?
    private var sentAt = 0.0
    private var failures = 0
    private static let maxFailures = 3

    private var ticket = ""
    private var token = ""
    private var streamSentAt = 0.0
    private var firstPositionAt: Double?
    private var streamIsOpen = false
    private var isWaiting = false
    private var lastEventID: String?

    private var classID = ""
    private var quantity = 1
    private var tried: Set<String> = []
    private var attempt = 0
    private var declineNext = false
    private var declinedOnce = false
    private var confirmSentAt = 0.0
    private var pollDelay: Double?
    private var rounds = 0
    private static let maxRounds = 5

    init(users: OnsaleUsers, index: Int, userID: String) {
        self.users = users
        self.index = index
        self.userID = userID
    }

    private var counters: OnsaleCounters { self.users.counters }
    private var now: Double { WallClock.monotonicSeconds() }

    /// Starts with the join.
    func start() {
        self.perform(UserRequest(method: .POST, path: "/v1/events/\(self.users.options.event)/queue",
                                 json: "{\"userId\":\"\(self.userID)\"}"))
    }

    // MARK: Connections

    private func perform(_ request: UserRequest) {
        guard self.phase != .done else { return }
        if request.stream { self.streamSentAt = self.now }
        self.sentAt = self.now
        if let connection = self.connection, connection.isReusable {
            connection.send(request)
            return
        }
        self.connection = nil
        self.pending = request
        let bound = NIOLoopBound(self, eventLoop: self.users.loop)
        let host = self.users.hostHeader
        self.users.connector.connect(sourceIndex: self.index) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                try channel.pipeline.syncOperations.addHandler(UserConnection(user: bound.value, hostHeader: host))
            }
        }.whenFailure { error in
            bound.value.failed("connect", detail: "\(error)", retry: true)
        }
    }

    /// The connection is up: send what waits.
    func connected(_ connection: UserConnection) {
        guard self.phase != .done, let request = self.pending else {
            connection.close()
            return
        }
        self.connection = connection
        self.pending = nil
        connection.send(request)
    }

    /// The connection closed by itself.
    func connectionClosed(_ connection: UserConnection, inFlight: UserRequest?, wasStreaming: Bool) {
        guard connection === self.connection else { return }
        self.connection = nil
        if wasStreaming { self.leaveStream() }
        guard let request = inFlight, self.phase != .done else { return }
        self.pending = request
        self.failed("closed mid-request", detail: "\(request.method) \(request.path)", retry: true)
    }

    /// Counts an unexpected failure; retries the pending request (a new connection) a few times.
    private func failed(_ kind: String, detail: String, retry: Bool) {
        guard self.phase != .done else { return }
        self.counters.error(kind, detail: "user \(self.userID): \(detail)")
        self.failures += 1
        guard retry, self.failures <= Self.maxFailures, let request = self.pending ?? self.lastRequest else {
            self.finish("failed")
            return
        }
        self.connection?.close()
        self.connection = nil
        let bound = NIOLoopBound(self, eventLoop: self.users.loop)
        self.users.loop.scheduleTask(in: .milliseconds(500)) { bound.value.perform(request) }
    }

    private var lastRequest: UserRequest?

    private func send(_ request: UserRequest) {
        self.lastRequest = request
        self.perform(request)
    }

    // MARK: Responses

    /// A complete (non-stream) response.
    func response(to request: UserRequest, status: UInt, body: [UInt8]) {
        guard self.phase != .done else { return }
        let elapsed = self.now - self.sentAt
        let code = JSONScan.string("code", in: body) ?? "-"
        let kind = "\(status) \(code)"
        if status >= 500 {
            self.pending = request
            self.failed(kind, detail: "\(request.method) \(request.path)", retry: true)
            return
        }
        switch self.phase {
        case .joining:
            self.counters.record(.join, seconds: elapsed)
            if (200..<300).contains(status), let ticket = JSONScan.string("ticket", in: body) {
                self.counters.joined()
                self.ticket = ticket
                self.phase = .streaming
                self.openStream()
            } else if status == 410 {
                self.counters.outcome(kind)
                self.finish("sold out before joining")
            } else {
                self.failed(kind, detail: "join: \(String(decoding: body.prefix(200), as: UTF8.self))", retry: false)
            }
        case .checkout:
            self.checkoutResponse(to: request, status: status, kind: kind, body: body, elapsed: elapsed)
        case .streaming, .done:
            self.failed(kind, detail: "unexpected response to \(request.path)", retry: false)
        }
    }

    // MARK: Stream

    private func openStream() {
        self.send(UserRequest(method: .GET, path: "/v1/events/\(self.users.options.event)/queue/\(self.ticket)/stream",
                              stream: true, lastEventID: self.lastEventID))
    }

    func streamOpened() {
        self.streamIsOpen = true
        self.counters.totals.streamsOpen += 1
    }

    private func leaveStream() {
        if self.streamIsOpen {
            self.streamIsOpen = false
            self.counters.totals.streamsOpen -= 1
        }
        if self.isWaiting {
            self.isWaiting = false
            self.counters.totals.waiting -= 1
        }
    }

    func streamEvent(_ event: SSEEvent, lastEventID: String?) {
        guard self.phase == .streaming else { return }
        self.lastEventID = lastEventID
        switch event.type {
        case "position":
            if self.firstPositionAt == nil {
                self.firstPositionAt = self.now
                self.counters.record(.streamFirstPosition, seconds: self.now - self.streamSentAt)
            }
            if !self.isWaiting {
                self.isWaiting = true
                self.counters.totals.waiting += 1
            }
        case "admitted":
            guard let token = JSONScan.string("token", in: event.data) else {
                self.failed("admitted without token", detail: event.dataString, retry: false)
                return
            }
            self.token = token
            self.counters.admitted()
            if let first = self.firstPositionAt { self.counters.record(.queueWait, seconds: self.now - first) }
            if let ts = JSONScan.unsignedInteger("ts", in: event.data) {
                let wall = WallClock.unixMicroseconds()
                self.counters.record(.admittedLag, seconds: Double(wall > ts ? wall - ts : 0) / 1e6)
            }
            self.closeConnection()
            self.phase = .checkout
            self.reserve()
        case "sold_out":
            self.counters.outcome("event sold_out")
            self.finish("sold out while waiting")
        default:
            break
        }
    }

    /// The server ended the stream without a final event: reconnect (with Last-Event-ID).
    func streamEnded(lastEventID: String?) {
        guard self.phase == .streaming else { return }
        self.leaveStream()
        self.lastEventID = lastEventID
        self.counters.error("stream ended early", detail: "user \(self.userID)")
        self.failures += 1
        guard self.failures <= Self.maxFailures else {
            self.finish("failed")
            return
        }
        self.openStream()
    }

    private func closeConnection() {
        self.leaveStream()
        self.connection?.close()
        self.connection = nil
    }

    // MARK: Checkout

    private func reserve() {
        if self.classID.isEmpty {
            self.quantity = Int.random(in: 1...4)
            guard let picked = self.users.pickClass(excluding: self.tried) else {
                // Every class refused: tickets held in other carts may still come back (an
                // expired hold, a declined payment), so look again a few times, a second apart.
                guard self.rounds < Self.maxRounds else {
                    self.finish("nothing left")
                    return
                }
                self.rounds += 1
                self.tried.removeAll()
                let bound = NIOLoopBound(self, eventLoop: self.users.loop)
                self.users.loop.scheduleTask(in: .seconds(1)) { bound.value.reserve() }
                return
            }
            self.classID = picked
        }
        self.attempt += 1
        self.send(UserRequest(
            method: .POST, path: "/v1/events/\(self.users.options.event)/reservations",
            json: "{\"items\":[{\"ticketClassId\":\"\(self.classID)\",\"quantity\":\(self.quantity)}]}",
            token: self.token, idempotencyKey: "\(self.userID)-r\(self.attempt)"))
    }

    private func confirm(reservation: String) {
        self.declineNext = !self.declinedOnce && Double.random(in: 0..<1) < self.users.options.declineShare
        self.confirmSentAt = self.now
        self.send(UserRequest(
            method: .POST, path: "/v1/reservations/\(reservation)/confirm",
            json: "{\"payment\":{\"method\":\"card\",\"simulate\":\"\(self.declineNext ? "decline" : "approve")\"}}",
            token: self.token, idempotencyKey: "\(self.userID)-c\(self.attempt)"))
    }

    /// Polls the order after a delay that starts at `--poll-milliseconds` and grows by half each
    /// time up to 1 s: slow orders must not turn into a storm of polls that slows them further.
    private func poll(order: String) {
        let bound = NIOLoopBound(self, eventLoop: self.users.loop)
        let request = UserRequest(method: .GET, path: "/v1/orders/\(order)", token: self.token)
        let delay = self.pollDelay ?? Double(self.users.options.pollMilliseconds)
        self.pollDelay = min(max(delay, 1) * 1.5, 1_000)
        self.users.loop.scheduleTask(in: .milliseconds(Int64(delay))) {
            bound.value.send(request)
        }
    }

    private func checkoutResponse(to request: UserRequest, status: UInt, kind: String, body: [UInt8], elapsed: Double) {
        if request.path.hasSuffix("/reservations") {
            self.counters.record(.reserve, seconds: elapsed)
            if status == 201, let id = JSONScan.string("reservationId", in: body) {
                self.counters.reserved()
                self.confirm(reservation: id)
            } else if status == 409, kind == "409 insufficient_inventory" {
                self.counters.outcome(kind)
                if self.quantity > 1 {
                    self.quantity = 1
                } else {
                    self.users.markExhausted(self.classID)
                    self.tried.insert(self.classID)
                    self.classID = ""
                }
                self.reserve()
            } else {
                self.failed(kind, detail: "reserve: \(String(decoding: body.prefix(200), as: UTF8.self))", retry: false)
            }
        } else if request.path.hasSuffix("/confirm") {
            if status == 202, let order = JSONScan.string("orderId", in: body) {
                self.counters.record(.confirm, seconds: elapsed)
                self.counters.totals.confirms += 1
                self.pollDelay = nil
                self.poll(order: order)
            } else {
                self.failed(kind, detail: "confirm: \(String(decoding: body.prefix(200), as: UTF8.self))", retry: false)
            }
        } else if status == 200, let state = JSONScan.string("status", in: body) {
            self.orderStatus(state, body: body, order: String(request.path.split(separator: "/").last ?? ""))
        } else {
            self.failed(kind, detail: "order: \(String(decoding: body.prefix(200), as: UTF8.self))", retry: false)
        }
    }

    private func orderStatus(_ state: String, body: [UInt8], order: String) {
        switch state {
        case "completed":
            self.counters.record(.confirmToCompleted, seconds: self.now - self.confirmSentAt)
            self.counters.completed(ticketsByClass: JSONScan.stringCounts("ticketClassId", in: body))
            self.finish("bought")
        case "cancelled" where self.declineNext:
            // The simulated decline: the user pays again with another card (a new reservation).
            self.counters.totals.ordersCancelled += 1
            self.counters.outcome("payment declined (simulated)")
            self.declinedOnce = true
            self.reserve()
        case "pending", "awaiting_payment", "paid":
            self.poll(order: order)
        default:
            self.failed("order \(state)", detail: String(decoding: body.prefix(200), as: UTF8.self), retry: false)
        }
    }

    private func finish(_ end: String) {
        guard self.phase != .done else { return }
        self.closeConnection()
        self.phase = .done
        self.pending = nil
        self.counters.outcome("end: \(end)")
        self.counters.totals.finishedUsers += 1
        self.users.userFinished()
    }
}
