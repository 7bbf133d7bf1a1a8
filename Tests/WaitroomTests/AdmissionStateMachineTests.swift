import Testing
@testable import Waitroom

/// The lease bookkeeping, with an injected clock and no I/O.
@Suite struct AdmissionStateMachineTests {
    let t0 = ContinuousClock.now
    func machine() -> AdmissionStateMachine {
        AdmissionStateMachine(now: t0, leaseTTL: .seconds(3), acquireInterval: .milliseconds(250), sweepInterval: .seconds(1))
    }

    @Test func followerTriesAtOnceThenEveryAcquireInterval() {
        var m = machine()
        #expect(m.tick(now: t0) == .acquireLease)
        m.leaseAnswered(held: false, sentAt: t0)
        #expect(m.tick(now: t0 + .milliseconds(100)) == AdmissionStateMachine.Action.none)
        #expect(m.tick(now: t0 + .milliseconds(249)) == AdmissionStateMachine.Action.none)
        #expect(m.tick(now: t0 + .milliseconds(250)) == .acquireLease)
        #expect(!m.isLeader)
    }

    @Test func leaderSweepsOnFirstTickThenEverySweepInterval() {
        var m = machine()
        _ = m.tick(now: t0)
        let became = m.leaseAnswered(held: true, sentAt: t0)
        #expect(became)
        #expect(m.isLeader)
        #expect(m.tick(now: t0 + .milliseconds(100)) == .lead(sweep: true))
        m.leaseAnswered(held: true, sentAt: t0 + .milliseconds(100))
        var sweeps = 0
        for i in 2...30 {  // 100 ms ticks over ~3 s
            let now = t0 + .milliseconds(100 * i)
            if case .lead(let sweep) = m.tick(now: now), sweep { sweeps += 1 }
            let became = m.leaseAnswered(held: true, sentAt: now)
            #expect(!became)
        }
        #expect(sweeps == 2 || sweeps == 3)
    }

    @Test func refusedRenewalOrFencedTickDemotesAtOnce() {
        var m = machine()
        _ = m.tick(now: t0)
        m.leaseAnswered(held: true, sentAt: t0)
        _ = m.tick(now: t0 + .milliseconds(100))
        m.leaseAnswered(held: false, sentAt: t0 + .milliseconds(100))
        #expect(!m.isLeader)
        #expect(m.tick(now: t0 + .milliseconds(200)) == AdmissionStateMachine.Action.none)
        #expect(m.tick(now: t0 + .milliseconds(350)) == .acquireLease)
        m.leaseAnswered(held: true, sentAt: t0 + .milliseconds(350))
        #expect(m.isLeader)
        m.leaseLost(now: t0 + .milliseconds(400))
        #expect(!m.isLeader)
    }

    @Test func leaderWhoseRenewalsFailStopsWhenItsTTLRunsOut() {
        var m = machine()
        _ = m.tick(now: t0)
        m.leaseAnswered(held: true, sentAt: t0)
        // Renewals never answer (Redis down): the controller feeds no results.
        for i in 1..<30 {
            #expect(m.tick(now: t0 + .milliseconds(100 * i)) != .acquireLease)
            #expect(m.isLeader)
        }
        #expect(m.tick(now: t0 + .seconds(3)) == .acquireLease)
        #expect(!m.isLeader)
    }
}
