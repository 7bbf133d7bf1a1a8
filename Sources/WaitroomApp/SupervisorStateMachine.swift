/// The restart policy of the supervisor, as a pure state machine: it is told what happened to
/// worker slots and answers what to do. No clocks, no processes; the caller passes the time.
public struct SupervisorStateMachine: Sendable {
    public struct Policy: Sendable {
        /// First restart delay after a crash.
        public var initialBackoff: Double = 0.1
        /// Cap of the exponential backoff.
        public var maxBackoff: Double = 5
        /// A worker that ran this long before dying is considered healthy: backoff starts over.
        public var stableAfter: Double = 30
        public init() {}
    }

    public enum Action: Equatable, Sendable {
        /// Start the worker in `slot` after `delay` seconds.
        case start(slot: Int, delay: Double)
        /// Shutting down: the slot stays empty.
        case none
    }

    private struct Slot {
        var startedAt: Double?
        var backoff: Double
        var restarts = 0
    }

    public let policy: Policy
    private var slots: [Slot]
    public private(set) var isShuttingDown = false

    public init(workers: Int, policy: Policy = Policy()) {
        self.policy = policy
        slots = Array(repeating: Slot(backoff: policy.initialBackoff), count: workers)
    }

    /// The actions to start every slot.
    public func initialActions() -> [Action] {
        slots.indices.map { .start(slot: $0, delay: 0) }
    }

    public mutating func started(slot: Int, at now: Double) {
        slots[slot].startedAt = now
    }

    /// A worker ended (whatever the reason). Answers whether and when to start it again.
    public mutating func exited(slot: Int, at now: Double) -> Action {
        guard !isShuttingDown else { return .none }
        let uptime = slots[slot].startedAt.map { now - $0 } ?? 0
        slots[slot].startedAt = nil
        slots[slot].restarts += 1
        if uptime >= policy.stableAfter {
            slots[slot].backoff = policy.initialBackoff
            return .start(slot: slot, delay: 0)
        }
        let delay = slots[slot].backoff
        slots[slot].backoff = min(policy.maxBackoff, slots[slot].backoff * 2)
        return .start(slot: slot, delay: delay)
    }

    public mutating func beginShutdown() {
        isShuttingDown = true
    }

    public func restarts(slot: Int) -> Int { slots[slot].restarts }
}
