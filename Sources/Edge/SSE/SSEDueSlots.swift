import HeapModule
import NIOCore

/// Streams waiting for their interval, filed by when they are to be looked at again, in slots of
/// ``width``: a timer for the earliest slot looks only at the streams filed there (a stream due
/// in a second is not visited every few milliseconds on the way, as one list of all waiting
/// streams did once their due times were spread over the second).
///
/// A stream is filed at most once per slot it is waiting for; moved to an earlier slot, it stays
/// in the later one too and is skipped there (``SSEStream/deferredSlot`` says which counts).
struct SSEDueSlots {
    /// 4 ms: a stream goes out at most this late, and one timer serves everything due within it.
    static let width: UInt64 = 4_000_000

    private var slots: [UInt64: [SSEStream]] = [:]
    private var order = Heap<UInt64>()

    var isEmpty: Bool { self.slots.isEmpty }

    /// The slot of a deadline: it is looked at when the slot ends, when everything filed in it is due.
    static func slot(of deadline: NIODeadline) -> UInt64 { deadline.uptimeNanoseconds / Self.width }

    /// When `slot` ends.
    static func end(of slot: UInt64) -> NIODeadline { .uptimeNanoseconds((slot &+ 1) &* Self.width) }

    /// The earliest slot with streams in it.
    var earliest: UInt64? { self.order.min }

    /// Files `stream` to be looked at again by `deadline`; returns its slot. A stream filed for
    /// an earlier (or the same) slot already stays there.
    @discardableResult
    mutating func file(_ stream: SSEStream, by deadline: NIODeadline) -> UInt64 {
        let slot = Self.slot(of: deadline)
        if let current = stream.deferredSlot, current <= slot { return current }
        stream.deferredSlot = slot
        if self.slots[slot]?.append(stream) == nil {
            self.slots[slot] = [stream]
            self.order.insert(slot)
        }
        return slot
    }

    /// Takes out every stream of the slots that ended by `now` (those still filed there:
    /// ``SSEStream/deferredSlot`` is cleared), appending them to `into`.
    mutating func takeDue(now: NIODeadline, into due: inout [SSEStream]) {
        while let slot = self.order.min, Self.end(of: slot) <= now {
            _ = self.order.removeMin()
            for stream in self.slots.removeValue(forKey: slot) ?? [] where stream.deferredSlot == slot {
                stream.deferredSlot = nil
                due.append(stream)
            }
        }
    }

    /// Forgets every slot (the streams' ``SSEStream/deferredSlot`` are cleared).
    mutating func removeAll() {
        for streams in self.slots.values {
            for stream in streams { stream.deferredSlot = nil }
        }
        self.slots.removeAll()
        self.order = Heap()
    }
}
