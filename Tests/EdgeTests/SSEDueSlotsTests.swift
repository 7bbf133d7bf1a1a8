@testable import Edge
import NIOCore
import Testing

@Suite("SSE due slots")
struct SSEDueSlotsTests {
    static func stream(_ key: Int) -> SSEStream { SSEStream(eventID: "e", key: key, lastEventID: nil, initial: nil) }
    static let base = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    @Test func streamsComeOutWhenTheirSlotHasEndedInTimeOrder() {
        var slots = SSEDueSlots()
        let late = Self.stream(1), early = Self.stream(2), sameSlot = Self.stream(3)
        slots.file(late, by: Self.base + .milliseconds(500))
        slots.file(early, by: Self.base + .milliseconds(100))
        slots.file(sameSlot, by: Self.base + .milliseconds(101))
        #expect(slots.earliest == SSEDueSlots.slot(of: Self.base + .milliseconds(100)))
        var due: [SSEStream] = []
        // Before the slot has ended: nothing, even at the deadline itself.
        slots.takeDue(now: Self.base + .milliseconds(100), into: &due)
        #expect(due.isEmpty)
        slots.takeDue(now: Self.base + .milliseconds(104), into: &due)
        #expect(due.map(\.key) == [2, 3])
        #expect(early.deferredSlot == nil && sameSlot.deferredSlot == nil)
        #expect(late.deferredSlot != nil)
        slots.takeDue(now: Self.base + .milliseconds(400), into: &due)
        #expect(due.count == 2)
        slots.takeDue(now: Self.base + .seconds(1), into: &due)
        #expect(due.map(\.key) == [2, 3, 1])
        #expect(slots.isEmpty)
        #expect(slots.earliest == nil)
    }

    @Test func aStreamIsFiledOnceAndAnEarlierDeadlineMovesIt() {
        var slots = SSEDueSlots()
        let stream = Self.stream(1)
        let first = slots.file(stream, by: Self.base + .milliseconds(300))
        // A later deadline: it stays where it is (it is looked at then, and filed again if need be).
        #expect(slots.file(stream, by: Self.base + .milliseconds(900)) == first)
        // An earlier one moves it; the old slot skips it.
        let moved = slots.file(stream, by: Self.base + .milliseconds(50))
        #expect(moved < first)
        var due: [SSEStream] = []
        slots.takeDue(now: Self.base + .milliseconds(60), into: &due)
        #expect(due.count == 1)
        slots.takeDue(now: Self.base + .seconds(2), into: &due)
        #expect(due.count == 1)
        #expect(slots.isEmpty)
    }

    /// A stream is in a deferred set and a waiting set at once without either seeing the other's
    /// slot: each lane keeps its own field.
    @Test func theTwoLanesKeepSeparateSlots() {
        var deferred = SSEDueSlots(lane: .deferred)
        var waiting = SSEDueSlots(lane: .waiting)
        let stream = Self.stream(1)
        let sendAt = deferred.file(stream, by: Self.base + .milliseconds(900))
        // Waiting: an earlier deadline than the deferred one, so a shared field would have moved it.
        let lookAt = waiting.file(stream, by: Self.base + .milliseconds(100))
        #expect(stream.deferredSlot == sendAt && stream.waitingSlot == lookAt)
        var due: [SSEStream] = []
        waiting.takeDue(now: Self.base + .milliseconds(200), into: &due)
        #expect(due.map(\.key) == [1])
        #expect(stream.waitingSlot == nil && stream.deferredSlot == sendAt)
        deferred.takeDue(now: Self.base + .milliseconds(200), into: &due)
        #expect(due.count == 1)   // not due in the deferred lane yet
        deferred.takeDue(now: Self.base + .seconds(1), into: &due)
        #expect(due.count == 2 && stream.deferredSlot == nil)
        #expect(deferred.isEmpty && waiting.isEmpty)
    }

    @Test func removeAllClearsTheStreams() {
        var slots = SSEDueSlots()
        let streams = (0..<10).map(Self.stream)
        for (index, stream) in streams.enumerated() { slots.file(stream, by: Self.base + .milliseconds(Int64(index * 7))) }
        slots.removeAll()
        #expect(slots.isEmpty)
        #expect(streams.allSatisfy { $0.deferredSlot == nil })
        var due: [SSEStream] = []
        slots.takeDue(now: Self.base + .seconds(10), into: &due)
        #expect(due.isEmpty)
    }
}
