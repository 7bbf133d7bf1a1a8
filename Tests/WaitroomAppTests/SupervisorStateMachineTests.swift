import Testing
@testable import WaitroomApp

@Suite struct SupervisorStateMachineTests {
    @Test func startsEverySlot() {
        let m = SupervisorStateMachine(workers: 3)
        #expect(m.initialActions() == [.start(slot: 0, delay: 0), .start(slot: 1, delay: 0), .start(slot: 2, delay: 0)])
    }

    @Test func crashLoopBacksOffExponentiallyUpToTheCap() {
        var m = SupervisorStateMachine(workers: 1)
        var t = 0.0
        var delays: [Double] = []
        for _ in 0..<10 {
            m.started(slot: 0, at: t)
            t += 0.01
            guard case .start(0, let d) = m.exited(slot: 0, at: t) else { Issue.record("no restart"); return }
            delays.append(d)
            t += d
        }
        #expect(delays == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5, 5, 5, 5])
        #expect(m.restarts(slot: 0) == 10)
    }

    @Test func aStableWorkerRestartsAtOnceAndResetsBackoff() {
        var m = SupervisorStateMachine(workers: 2)
        m.started(slot: 1, at: 0)
        #expect(m.exited(slot: 1, at: 0.5) == .start(slot: 1, delay: 0.1))
        m.started(slot: 1, at: 1)
        #expect(m.exited(slot: 1, at: 1.1) == .start(slot: 1, delay: 0.2))
        m.started(slot: 1, at: 2)
        #expect(m.exited(slot: 1, at: 100) == .start(slot: 1, delay: 0))
        m.started(slot: 1, at: 100)
        #expect(m.exited(slot: 1, at: 100.1) == .start(slot: 1, delay: 0.1))
    }

    @Test func noRestartDuringShutdown() {
        var m = SupervisorStateMachine(workers: 2)
        m.started(slot: 0, at: 0)
        m.beginShutdown()
        #expect(m.exited(slot: 0, at: 1) == .none)
    }
}
