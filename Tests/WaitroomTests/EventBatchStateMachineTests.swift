import Testing
@testable import Waitroom

@Suite("Batching per event: pure")
struct EventBatchStateMachineTests {
    typealias Machine = EventBatchStateMachine<PresenceChange, Int>

    private func text(_ item: PresenceChange) -> String {
        switch item {
        case .connect(let order): return "c\(order)"
        case .disconnect(let order): return "d\(order)"
        }
    }

    private func summary(_ batch: Machine.Batch?) -> String {
        guard let batch else { return "nil" }
        return "\(batch.event):" + batch.entries.map { text($0.item) + "/" + ($0.waiter.map(String.init) ?? "-") }.joined(separator: ",")
    }

    @Test func oneFlushPerTickTakesEveryEventInArrivalOrder() {
        var machine = Machine(maxBatch: 10)
        do { let scheduled = machine.enqueue(event: "b", item: .connect(1), waiter: 1); #expect(scheduled) }
        do { let scheduled = machine.enqueue(event: "a", item: .disconnect(7), waiter: nil); #expect(!scheduled) }
        do { let scheduled = machine.enqueue(event: "b", item: .disconnect(1), waiter: nil); #expect(!scheduled) }
        #expect(machine.pendingCount == 3)
        #expect(machine.flush().map { summary($0) } == ["b:c1/1,d1/-", "a:d7/-"])
        #expect(machine.pendingCount == 0)
        #expect(machine.flush().isEmpty)
    }

    @Test func changesArrivingWhileTheEventsCallIsInFlightFollowItInOrder() {
        var machine = Machine(maxBatch: 10)
        do { let scheduled = machine.enqueue(event: "e", item: .disconnect(3), waiter: nil); #expect(scheduled) }
        #expect(summary(machine.flush().first) == "e:d3/-")
        // In flight: a reopen of 3 waits for the close, and schedules no flush of its own.
        do { let scheduled = machine.enqueue(event: "e", item: .connect(3), waiter: 5); #expect(!scheduled) }
        #expect(machine.flush().isEmpty)
        // Another event is not held back by it.
        do { let scheduled = machine.enqueue(event: "f", item: .connect(9), waiter: 6); #expect(scheduled) }
        #expect(machine.flush().map { summary($0) } == ["f:c9/6"])
        #expect(summary(machine.completed(event: "e")) == "e:c3/5")
        #expect(summary(machine.completed(event: "e")) == "nil")
        #expect(summary(machine.completed(event: "f")) == "nil")
        // Idle again: the next change schedules a flush.
        do { let scheduled = machine.enqueue(event: "e", item: .disconnect(3), waiter: nil); #expect(scheduled) }
    }

    @Test func aLongQueueGoesOutInBatchesOfAtMostMaxBatchOneAfterTheOther() {
        var machine = Machine(maxBatch: 2)
        for order in 1...5 { _ = machine.enqueue(event: "e", item: .connect(order), waiter: order) }
        #expect(machine.flush().map { summary($0) } == ["e:c1/1,c2/2"])
        #expect(machine.pendingCount == 3)
        #expect(summary(machine.completed(event: "e")) == "e:c3/3,c4/4")
        #expect(summary(machine.completed(event: "e")) == "e:c5/5")
        #expect(summary(machine.completed(event: "e")) == "nil")
        #expect(machine.pendingCount == 0)
    }

    @Test func randomSequencesLoseNothingKeepOrderAndHaveOneCallInFlightPerEvent() {
        var random = SplitMix(state: 29)
        for round in 0..<200 {
            var machine = EventBatchStateMachine<Int, Int>(maxBatch: Int.random(in: 1...6, using: &random))
            var sent: [String: [Int]] = [:]
            var expected: [String: [Int]] = [:]
            var inFlight: [String] = []
            var scheduled = false
            func take(_ batch: EventBatchStateMachine<Int, Int>.Batch) {
                #expect(!batch.entries.isEmpty && batch.entries.count <= machine.maxBatch, "round \(round)")
                #expect(!inFlight.contains(batch.event), "round \(round): two calls in flight for \(batch.event)")
                inFlight.append(batch.event)
                sent[batch.event, default: []] += batch.entries.map(\.item)
            }
            for value in 0..<Int.random(in: 1...60, using: &random) {
                let event = ["a", "b", "c"][Int.random(in: 0...2, using: &random)]
                expected[event, default: []].append(value)
                if machine.enqueue(event: event, item: value, waiter: value) {
                    #expect(!scheduled, "round \(round): one flush at a time")
                    scheduled = true
                }
                switch Int.random(in: 0..<6, using: &random) {
                case 0 where scheduled:
                    scheduled = false
                    for batch in machine.flush() { take(batch) }
                case 1 where !inFlight.isEmpty:
                    let done = inFlight.remove(at: Int.random(in: 0..<inFlight.count, using: &random))
                    if let next = machine.completed(event: done) { take(next) }
                default:
                    break
                }
            }
            // Drain: the flush, then every call completes until nothing is left.
            if scheduled { for batch in machine.flush() { take(batch) } }
            while let done = inFlight.first {
                inFlight.removeFirst()
                if let next = machine.completed(event: done) { take(next) }
            }
            #expect(sent == expected, "round \(round)")
            #expect(machine.pendingCount == 0 && machine.inFlightCount == 0)
        }
    }
}
