import Testing
@testable import Waitroom

@Suite("Join batching: pure")
struct JoinBatchStateMachineTests {
    typealias Machine = JoinBatchStateMachine<Int>

    private func isSchedule(_ action: Machine.EnqueueAction) -> Bool {
        if case .scheduleFlush = action { return true }
        return false
    }

    private func isNone(_ action: Machine.EnqueueAction) -> Bool {
        if case .none = action { return true }
        return false
    }

    private func summary(_ batches: [Machine.Batch]) -> [String] {
        batches.map { "\($0.event):" + $0.entries.map { "\($0.userId ?? "-")/\($0.waiter)" }.joined(separator: ",") }
    }

    @Test func firstJoinOfATickSchedulesOneFlushThatTakesEveryEventInArrivalOrder() {
        var machine = Machine(maxBatch: 10)
        #expect(isSchedule(machine.enqueue(event: "b", userId: "u1", waiter: 1)))
        #expect(isNone(machine.enqueue(event: "a", userId: nil, waiter: 2)))
        #expect(isNone(machine.enqueue(event: "b", userId: "u1", waiter: 3)))
        #expect(machine.pendingCount == 3)
        #expect(summary(machine.flush()) == ["b:u1/1,u1/3", "a:-/2"])
        #expect(machine.pendingCount == 0)
        // Nothing pending: an empty flush; the next join schedules again.
        #expect(machine.flush().isEmpty)
        #expect(isSchedule(machine.enqueue(event: "a", userId: "u2", waiter: 4)))
        #expect(summary(machine.flush()) == ["a:u2/4"])
    }

    @Test func aFullBatchGoesAtOnceAndTheScheduledFlushSendsTheRest() {
        var machine = Machine(maxBatch: 3)
        #expect(isSchedule(machine.enqueue(event: "e", userId: "1", waiter: 1)))
        #expect(isNone(machine.enqueue(event: "f", userId: "x", waiter: 9)))
        #expect(isNone(machine.enqueue(event: "e", userId: "2", waiter: 2)))
        guard case .send(let full) = machine.enqueue(event: "e", userId: "3", waiter: 3) else {
            Issue.record("a full batch must be sent at once")
            return
        }
        #expect(summary([full]) == ["e:1/1,2/2,3/3"])
        #expect(isNone(machine.enqueue(event: "e", userId: "4", waiter: 4)))
        #expect(summary(machine.flush()) == ["f:x/9", "e:4/4"])
    }

    @Test func batchesOfOneSendEveryJoinAtOnce() {
        var machine = Machine(maxBatch: 1)
        for waiter in 0..<3 {
            guard case .send(let batch) = machine.enqueue(event: "e", userId: nil, waiter: waiter) else {
                Issue.record("expected a send")
                return
            }
            #expect(batch.entries.map(\.waiter) == [waiter])
        }
        #expect(machine.flush().isEmpty)
    }

    @Test func randomSequencesLoseNoJoinAndKeepArrivalOrderPerEvent() {
        var random = SplitMix(state: 11)
        for round in 0..<200 {
            var machine = Machine(maxBatch: Int.random(in: 1...6, using: &random))
            var sent: [String: [Int]] = [:]
            var expected: [String: [Int]] = [:]
            var scheduled = false
            for waiter in 0..<Int.random(in: 1...60, using: &random) {
                let event = ["a", "b", "c"][Int.random(in: 0...2, using: &random)]
                expected[event, default: []].append(waiter)
                switch machine.enqueue(event: event, userId: nil, waiter: waiter) {
                case .none:
                    #expect(scheduled, "round \(round): .none only while a flush is scheduled")
                case .scheduleFlush:
                    #expect(!scheduled, "round \(round): one flush at a time")
                    scheduled = true
                case .send(let batch):
                    #expect(batch.entries.count == machine.maxBatch)
                    sent[batch.event, default: []] += batch.entries.map(\.waiter)
                }
                if Int.random(in: 0..<8, using: &random) == 0, scheduled {
                    for batch in machine.flush() {
                        #expect(!batch.entries.isEmpty && batch.entries.count <= machine.maxBatch)
                        sent[batch.event, default: []] += batch.entries.map(\.waiter)
                    }
                    scheduled = false
                }
            }
            for batch in machine.flush() { sent[batch.event, default: []] += batch.entries.map(\.waiter) }
            #expect(sent == expected, "round \(round)")
            #expect(machine.pendingCount == 0)
        }
    }
}
