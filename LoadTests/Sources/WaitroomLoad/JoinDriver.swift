import LoadKit
import NIOCore

/// Decides, for the join requesters of one worker, which user joins next and whether to go on;
/// collects the tickets when the joins feed an SSE run.
///
/// Confined to the worker's event loop, like `WorkerCounters`.
final class JoinDriver {
    /// Stop starting requests after this moment.
    let deadline: NIODeadline
    /// Stop after this many successful joins (`nil`: until the deadline).
    let wantedTickets: Int?
    /// Tickets received, in order.
    private(set) var tickets: [String] = []
    private let userPrefix: String
    private var nextUser = 0
    private var started = 0
    /// Failures in a row after which the driver gives up (a server that never hands out tickets).
    let maxConsecutiveFailures = 1_000
    private var consecutiveFailures = 0
    /// Called once when the wanted tickets are all in (or the driver gave up).
    var whenDone: (() -> Void)?

    init(deadline: NIODeadline, wantedTickets: Int?, userPrefix: String) {
        self.deadline = deadline
        self.wantedTickets = wantedTickets
        self.userPrefix = userPrefix
    }

    /// The user id of the next request, or `nil` when no more requests should start.
    func nextUserID() -> String? {
        guard NIODeadline.now() < self.deadline, self.consecutiveFailures < self.maxConsecutiveFailures else { return nil }
        if let wanted = self.wantedTickets, self.started >= wanted { return nil }
        self.started += 1
        defer { self.nextUser += 1 }
        return "\(self.userPrefix)-\(self.nextUser)"
    }

    /// Takes the outcome of one request: a ticket when it succeeded, `nil` when it failed (retried,
    /// up to `maxConsecutiveFailures` in a row). For plain load (`wantedTickets == nil`) every
    /// answered request counts as a success.
    func completed(ticket: String?) {
        if let ticket {
            // Plain load keeps no tickets (millions of joins); an SSE join phase needs them all.
            if self.wantedTickets != nil { self.tickets.append(ticket) }
            self.consecutiveFailures = 0
        } else {
            self.started -= 1
            self.consecutiveFailures += 1
            if self.consecutiveFailures >= self.maxConsecutiveFailures, let whenDone = self.whenDone {
                self.whenDone = nil
                whenDone()
            }
        }
        if let wanted = self.wantedTickets, self.tickets.count >= wanted, let whenDone = self.whenDone {
            self.whenDone = nil
            whenDone()
        }
    }

    /// Whether the run is over (deadline passed or all tickets in).
    var isDone: Bool {
        if self.consecutiveFailures >= self.maxConsecutiveFailures { return true }
        if let wanted = self.wantedTickets, self.tickets.count >= wanted { return true }
        return NIODeadline.now() >= self.deadline
    }
}
