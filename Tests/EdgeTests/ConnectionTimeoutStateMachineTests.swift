@testable import Edge
import NIOCore
import Testing

@Suite("Connection timeout state machine (pure, injected clock)")
struct ConnectionTimeoutStateMachineTests {
    let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func machine() -> ConnectionTimeoutStateMachine {
        ConnectionTimeoutStateMachine(headerTimeout: .seconds(10), bodyTimeout: .seconds(30), idleTimeout: .seconds(60))
    }

    @Test func newConnectionMustSendHeadInTime() {
        var machine = machine()
        machine.connectionOpened(now: t0)
        #expect(machine.deadline == t0 + .seconds(10))
        #expect(machine.timerFired(now: t0 + .seconds(5)) == .rearm(t0 + .seconds(10)))
        // Trickling bytes do not extend the head deadline (slowloris).
        machine.bytesReceived(now: t0 + .seconds(9))
        #expect(machine.deadline == t0 + .seconds(10))
        #expect(machine.timerFired(now: t0 + .seconds(10)) == .requestTimedOut)
        #expect(machine.phase == .closed)
        #expect(machine.timerFired(now: t0 + .seconds(11)) == .none)
    }

    @Test func bodyReadsExtendTheBodyDeadline() {
        var machine = machine()
        machine.connectionOpened(now: t0)
        machine.requestHeadReceived(now: t0 + .seconds(1))
        #expect(machine.deadline == t0 + .seconds(31))
        machine.bytesReceived(now: t0 + .seconds(20))
        #expect(machine.deadline == t0 + .seconds(50))
        #expect(machine.timerFired(now: t0 + .seconds(31)) == .rearm(t0 + .seconds(50)))
        #expect(machine.timerFired(now: t0 + .seconds(50)) == .requestTimedOut)
    }

    @Test func aTrickledBodyEndsAtTheBodyDeadline() {
        var machine = ConnectionTimeoutStateMachine(headerTimeout: .seconds(10), bodyTimeout: .seconds(3),
                                                    bodyDeadline: .seconds(8), idleTimeout: .seconds(60))
        machine.connectionOpened(now: t0)
        machine.requestHeadReceived(now: t0)
        #expect(machine.deadline == t0 + .seconds(3))
        // A byte every 2 s keeps each pause under bodyTimeout, but the whole body is due at 8 s.
        for second in stride(from: 2, through: 6, by: 2) {
            machine.bytesReceived(now: t0 + .seconds(Int64(second)))
        }
        #expect(machine.deadline == t0 + .seconds(8))
        machine.bytesReceived(now: t0 + .seconds(7))
        #expect(machine.deadline == t0 + .seconds(8))
        #expect(machine.timerFired(now: t0 + .seconds(8)) == .requestTimedOut)
        // The next request on a kept-alive connection gets a fresh body deadline.
        var next = ConnectionTimeoutStateMachine(headerTimeout: .seconds(10), bodyTimeout: .seconds(3),
                                                 bodyDeadline: .seconds(8), idleTimeout: .seconds(60))
        next.connectionOpened(now: t0)
        next.requestHeadReceived(now: t0)
        next.requestEndReceived()
        next.responseCompleted(now: t0 + .seconds(1))
        next.bytesReceived(now: t0 + .seconds(20))
        next.requestHeadReceived(now: t0 + .seconds(20))
        next.bytesReceived(now: t0 + .seconds(22))
        #expect(next.deadline == t0 + .seconds(25))
    }

    @Test func noTimeoutWhileProcessing() {
        var machine = machine()
        machine.connectionOpened(now: t0)
        machine.requestHeadReceived(now: t0)
        machine.requestEndReceived()
        #expect(machine.deadline == nil)
        #expect(machine.timerFired(now: t0 + .seconds(1000)) == .none)
        machine.bytesReceived(now: t0 + .seconds(1000))  // pipelined bytes
        #expect(machine.phase == .processing)
    }

    @Test func idleKeepAliveCloses() {
        var machine = machine()
        machine.connectionOpened(now: t0)
        machine.requestHeadReceived(now: t0)
        machine.requestEndReceived()
        machine.responseCompleted(now: t0 + .seconds(2))
        #expect(machine.phase == .idle)
        #expect(machine.deadline == t0 + .seconds(62))
        #expect(machine.timerFired(now: t0 + .seconds(62)) == .closeIdle)
    }

    @Test func firstByteOfNextRequestStartsHeadDeadline() {
        var machine = machine()
        machine.connectionOpened(now: t0)
        machine.requestHeadReceived(now: t0)
        machine.requestEndReceived()
        machine.responseCompleted(now: t0)
        machine.bytesReceived(now: t0 + .seconds(30))
        #expect(machine.phase == .awaitingHead)
        #expect(machine.deadline == t0 + .seconds(40))
        // The old idle timer fires early and only re-arms.
        #expect(machine.timerFired(now: t0 + .seconds(35)) == .rearm(t0 + .seconds(40)))
        #expect(machine.timerFired(now: t0 + .seconds(40)) == .requestTimedOut)
    }

    @Test func closedIgnoresEverything() {
        var machine = machine()
        machine.connectionOpened(now: t0)
        machine.closed()
        machine.requestHeadReceived(now: t0)
        machine.responseCompleted(now: t0)
        #expect(machine.phase == .closed)
        #expect(machine.deadline == nil)
    }
}
