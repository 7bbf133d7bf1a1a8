import HeapModule
import NIOCore

/// Streams waiting for their interval, filed by when they are to be looked at again, in slots of
/// ``width``: a timer for the earliest slot looks only at the streams filed there (a stream due
/// in a second is not visited every few milliseconds on the way, as one list of all waiting
/// streams did once their due times were spread over the second).
///
/// A stream is filed at most once per slot it is waiting for; moved to an earlier slot, it stays
/// in the later one too and is skipped there (its slot field for the ``Lane`` says which counts).
///
/// A registry keeps two: streams to be sent at a time (``Lane/deferred``), and streams between
/// two values, filed by when a tick should look at them again (``Lane/waiting``).
struct SSEDueSlots {
    /// 4 ms: a stream goes out at most this late, and one timer serves everything due within it.
    static let width: UInt64 = 4_000_000

    /// Which of the stream's slot fields this set keeps: a stream can be in one set of each lane.
    enum Lane {
        case deferred
        case waiting
    }

    let lane: Lane
    private var slots: [UInt64: [SSEStream]] = [:]
    private var order = Heap<UInt64>()

    init(lane: Lane = .deferred) {
        self.lane = lane
    }

    private func slot(of stream: SSEStream) -> UInt64? {
        switch self.lane {
        case .deferred: stream.deferredSlot
        case .waiting: stream.waitingSlot
        }
    }

    private func setSlot(_ slot: UInt64?, of stream: SSEStream) {
        switch self.lane {
        case .deferred: stream.deferredSlot = slot
        case .waiting: stream.waitingSlot = slot
        }
    }

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
        if let current = self.slot(of: stream), current <= slot { return current }
        self.setSlot(slot, of: stream)
        if self.slots[slot]?.append(stream) == nil {
            self.slots[slot] = [stream]
            self.order.insert(slot)
        }
        return slot
    }

    /// Takes out every stream of the slots that ended by `now` (those still filed there: their
    /// slot field is cleared), appending them to `into`.
    mutating func takeDue(now: NIODeadline, into due: inout [SSEStream]) {
        while let slot = self.order.min, Self.end(of: slot) <= now {
            _ = self.order.removeMin()
            for stream in self.slots.removeValue(forKey: slot) ?? [] where self.slot(of: stream) == slot {
                self.setSlot(nil, of: stream)
                due.append(stream)
            }
        }
    }

    /// Forgets every slot (the streams' slot fields are cleared).
    mutating func removeAll() {
        for streams in self.slots.values {
            for stream in streams { self.setSlot(nil, of: stream) }
        }
        self.slots.removeAll()
        self.order = Heap()
    }
}

/// The one timer of an ``SSEDueSlots``: set for its earliest slot's end, moved only to an earlier
/// slot (a later one is looked at when this one fires).
struct SSESlotTimer {
    private var task: Scheduled<Void>?
    /// The slot it is set for; `.max` when it is not set.
    private(set) var slot: UInt64 = .max

    /// Sets it for `slot` on `loop` unless it is set for that slot or an earlier one.
    mutating func arm(for slot: UInt64?, on loop: any EventLoop, _ fire: @escaping @Sendable () -> Void) {
        guard let slot, slot < self.slot else { return }
        self.task?.cancel()
        self.slot = slot
        self.task = loop.scheduleTask(deadline: SSEDueSlots.end(of: slot), fire)
    }

    /// It fired: not set any more.
    mutating func fired() {
        self.task = nil
        self.slot = .max
    }

    mutating func cancel() {
        self.task?.cancel()
        self.fired()
    }
}
