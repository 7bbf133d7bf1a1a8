/// The per-event role of one process in admission: follower (keeps trying to take the lease) or
/// leader (renews it, admits every tick, sweeps every `sweepInterval`). Pure: the controller
/// feeds it the clock and the results of its Redis calls and executes the actions it returns.
///
/// Safety does not rest on this machine (the `admit` script is fenced on the lease in Redis);
/// it only makes a process stop acting as leader as soon as it knows, or may not know, that its
/// lease is gone: a refused renewal or fenced tick demotes at once, and a leader whose renewals
/// fail stops when its last successful renewal's TTL has run out.
public struct AdmissionStateMachine: Sendable, Hashable {
    /// The clock's instant.
    public typealias Instant = ContinuousClock.Instant

    /// What the process is for this event.
    public enum Role: Sendable, Hashable {
        /// Not the admitter; tries to take the lease at `nextAttempt`.
        case follower(nextAttempt: Instant)
        /// The admitter while `validUntil` (the local bound of the lease) has not passed.
        case leader(validUntil: Instant, nextSweep: Instant)
    }

    /// What to do on a tick.
    public enum Action: Sendable, Hashable {
        /// Nothing this tick.
        case none
        /// Try to take the lease (`SET NX PX`).
        case acquireLease
        /// Renew the lease, then run `admit`, and `sweep` when `sweep` is set.
        case lead(sweep: Bool)
    }

    /// The current role.
    public private(set) var role: Role
    private let leaseTTL: Duration
    private let acquireInterval: Duration
    private let sweepInterval: Duration

    /// A follower that tries to take the lease at once.
    public init(now: Instant, leaseTTL: Duration, acquireInterval: Duration, sweepInterval: Duration) {
        self.role = .follower(nextAttempt: now)
        self.leaseTTL = leaseTTL
        self.acquireInterval = acquireInterval
        self.sweepInterval = sweepInterval
    }

    /// `true` while leading.
    public var isLeader: Bool {
        if case .leader = role { return true }
        return false
    }

    /// The action for a tick at `now`.
    public mutating func tick(now: Instant) -> Action {
        switch role {
        case .follower(let nextAttempt):
            guard now >= nextAttempt else { return .none }
            role = .follower(nextAttempt: now + acquireInterval)
            return .acquireLease
        case .leader(let validUntil, let nextSweep):
            guard now < validUntil else {
                // Renewals failed for a whole TTL: someone else may lead by now.
                role = .follower(nextAttempt: now + acquireInterval)
                return .acquireLease
            }
            if now >= nextSweep {
                role = .leader(validUntil: validUntil, nextSweep: now + sweepInterval)
                return .lead(sweep: true)
            }
            return .lead(sweep: false)
        }
    }

    /// The lease request sent at `sentAt` was answered. Returns `true` when this made the
    /// process leader (it was not before).
    @discardableResult
    public mutating func leaseAnswered(held: Bool, sentAt: Instant) -> Bool {
        guard held else {
            leaseLost(now: sentAt)
            return false
        }
        switch role {
        case .follower:
            // The first tick as leader sweeps.
            role = .leader(validUntil: sentAt + leaseTTL, nextSweep: sentAt)
            return true
        case .leader(_, let nextSweep):
            role = .leader(validUntil: sentAt + leaseTTL, nextSweep: nextSweep)
            return false
        }
    }

    /// The lease is known to be held by someone else (renewal refused, `admit` fenced).
    public mutating func leaseLost(now: Instant) {
        switch role {
        case .leader:
            role = .follower(nextAttempt: now + acquireInterval)
        case .follower:
            break
        }
    }
}
