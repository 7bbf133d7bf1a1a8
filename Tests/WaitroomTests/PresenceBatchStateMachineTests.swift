import Testing
@testable import Waitroom

@Suite("Presence batching: pure")
struct PresenceBatchStateMachineTests {
    typealias Machine = PresenceBatchStateMachine<Int>

    private func text(_ change: PresenceChange) -> String {
        switch change {
        case .connect(let order): return "c\(order)"
        case .disconnect(let order): return "d\(order)"
        }
    }

    private func summary(_ batch: Machine.Batch?) -> String {
        guard let batch else { return "nil" }
        return "\(batch.event):" + batch.entries.map { text($0.change) + "/" + ($0.waiter.map(String.init) ?? "-") }.joined(separator: ",")
    }

    @Test func oneFlushPerTickTakesEveryEventInArrivalOrder() {
        var machine = Machine(maxBatch: 10)
        do { let scheduled = machine.enqueue(event: "b", change: .connect(1), waiter: 1); #expect(scheduled) }
        do { let scheduled = machine.enqueue(event: "a", change: .disconnect(7), waiter: nil); #expect(!scheduled) }
        do { let scheduled = machine.enqueue(event: "b", change: .disconnect(1), waiter: nil); #expect(!scheduled) }
        #expect(machine.pendingCount == 3)
        #expect(machine.flush().map { summary($0) } == ["b:c1/1,d1/-", "a:d7/-"])
        #expect(machine.pendingCount == 0)
        #expect(machine.flush().isEmpty)
    }

    @Test func changesArrivingWhileTheEventsCallIsInFlightFollowItInOrder() {
        var machine = Machine(maxBatch: 10)
        do { let scheduled = machine.enqueue(event: "e", change: .disconnect(3), waiter: nil); #expect(scheduled) }
        #expect(summary(machine.flush().first) == "e:d3/-")
        // In flight: a reopen of 3 waits for the close, and schedules no flush of its own.
        do { let scheduled = machine.enqueue(event: "e", change: .connect(3), waiter: 5); #expect(!scheduled) }
        #expect(machine.flush().isEmpty)
        // Another event is not held back by it.
        do { let scheduled = machine.enqueue(event: "f", change: .connect(9), waiter: 6); #expect(scheduled) }
        #expect(machine.flush().map { summary($0) } == ["f:c9/6"])
        #expect(summary(machine.completed(event: "e")) == "e:c3/5")
        #expect(summary(machine.completed(event: "e")) == "nil")
        #expect(summary(machine.completed(event: "f")) == "nil")
        // Idle again: the next change schedules a flush.
        do { let scheduled = machine.enqueue(event: "e", change: .disconnect(3), waiter: nil); #expect(scheduled) }
    }

    @Test func aLongQueueGoesOutInBatchesOfAtMostMaxBatchOneAfterTheOther() {
        var machine = Machine(maxBatch: 2)
        for order in 1...5 { _ = machine.enqueue(event: "e", change: .connect(order), waiter: order) }
        #expect(machine.flush().map { summary($0) } == ["e:c1/1,c2/2"])
        #expect(machine.pendingCount == 3)
        #expect(summary(machine.completed(event: "e")) == "e:c3/3,c4/4")
        #expect(summary(machine.completed(event: "e")) == "e:c5/5")
        #expect(summary(machine.completed(event: "e")) == "nil")
        #expect(machine.pendingCount == 0)
    }
}
