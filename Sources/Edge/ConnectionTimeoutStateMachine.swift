import NIOCore

/// The timing rules of one HTTP connection, as a pure state machine with an injected clock.
///
/// - A new connection, or a kept-alive one that receives the first byte of its next request,
///   must deliver a complete request head within `headerTimeout`.
/// - While a body is read, each read must come within `bodyTimeout` of the last, and the whole
///   body within `bodyDeadline` of the head (a body trickled a byte at a time, each just within
///   `bodyTimeout`, would otherwise hold the connection for days: slowloris on bodies).
/// - While the server works on a request (or streams a response) no timeout applies.
/// - After a response, an idle kept-alive connection is closed after `idleTimeout`.
///
/// The machine keeps one deadline; the handler keeps at most one timer and, when it fires,
/// asks ``timerFired(now:)`` what to do (a deadline that moved later only re-arms the timer, so
/// keep-alive traffic does not cancel and re-schedule timers on every request).
struct ConnectionTimeoutStateMachine {
    enum Phase: Equatable {
        case awaitingHead
        case readingBody
        case processing
        case idle
        case closed
    }

    enum TimerAction: Equatable {
        /// Nothing to do (no deadline).
        case none
        /// The deadline moved; arm a timer for it.
        case rearm(NIODeadline)
        /// A request is late: answer `408` and close.
        case requestTimedOut
        /// An idle connection expired: close silently.
        case closeIdle
    }

    private(set) var phase: Phase = .awaitingHead
    private(set) var deadline: NIODeadline?
    /// When the body being read must be complete.
    private var bodyEnd: NIODeadline?

    let headerTimeout: TimeAmount
    let bodyTimeout: TimeAmount
    let bodyDeadline: TimeAmount
    let idleTimeout: TimeAmount

    init(headerTimeout: TimeAmount, bodyTimeout: TimeAmount, bodyDeadline: TimeAmount = .seconds(60), idleTimeout: TimeAmount) {
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.bodyDeadline = bodyDeadline
        self.idleTimeout = idleTimeout
    }

    mutating func connectionOpened(now: NIODeadline) {
        self.phase = .awaitingHead
        self.deadline = now + self.headerTimeout
    }

    mutating func bytesReceived(now: NIODeadline) {
        switch self.phase {
        case .idle:
            self.phase = .awaitingHead
            self.deadline = now + self.headerTimeout
        case .readingBody:
            self.deadline = self.bodyEnd.map { min($0, now + self.bodyTimeout) } ?? now + self.bodyTimeout
        case .awaitingHead, .processing, .closed:
            break
        }
    }

    mutating func requestHeadReceived(now: NIODeadline) {
        guard self.phase != .closed else { return }
        self.phase = .readingBody
        let end = now + self.bodyDeadline
        self.bodyEnd = end
        self.deadline = min(end, now + self.bodyTimeout)
    }

    mutating func requestEndReceived() {
        guard self.phase != .closed else { return }
        self.phase = .processing
        self.deadline = nil
        self.bodyEnd = nil
    }

    mutating func responseCompleted(now: NIODeadline) {
        guard self.phase != .closed else { return }
        self.phase = .idle
        self.deadline = now + self.idleTimeout
    }

    mutating func closed() {
        self.phase = .closed
        self.deadline = nil
        self.bodyEnd = nil
    }

    mutating func timerFired(now: NIODeadline) -> TimerAction {
        guard let deadline = self.deadline else { return .none }
        if now < deadline { return .rearm(deadline) }
        switch self.phase {
        case .awaitingHead, .readingBody:
            self.closed()
            return .requestTimedOut
        case .idle:
            self.closed()
            return .closeIdle
        case .processing, .closed:
            return .none
        }
    }
}
