/// A stream-presence change of one edge process: the first local stream of an order opened, or
/// the last one closed.
public enum PresenceChange: Hashable, Sendable {
    case connect(Int)
    case disconnect(Int)
}

/// Which presence changes go to Redis together (``PresenceBatcher``). The changes of one event
/// that arrive before the flush (the end of the current event-loop tick) become one script call;
/// and at most one call per event is in flight: changes that arrive meanwhile wait for it and go
/// out together when it completes. So a close and a reopen of the same place reach Redis in the
/// order they happened, whatever connection of the pool carries them, and a burst (an edge's
/// streams reconnecting or dropping at once) costs one call per tick rather than one per stream.
/// A pure value type; `Waiter` answers one change (a promise in the server, a value in tests).
public struct PresenceBatchStateMachine<Waiter> {
    public struct Entry {
        public var change: PresenceChange
        public var waiter: Waiter?
    }

    public struct Batch {
        public var event: String
        public var entries: [Entry]
    }

    struct EventQueue {
        var pending: [Entry] = []
        var inFlight = false
    }

    /// The most changes in one batch.
    public let maxBatch: Int
    private var queues: [String: EventQueue] = [:]
    /// Events with pending changes and no call in flight, in the order their first change came.
    private var ready: [String] = []
    private var flushScheduled = false

    public init(maxBatch: Int) {
        precondition(maxBatch >= 1, "maxBatch must be at least 1")
        self.maxBatch = maxBatch
    }

    /// Changes waiting to be sent (not counting those in flight).
    public var pendingCount: Int { queues.values.reduce(0) { $0 + $1.pending.count } }

    /// A change arrived. True when the caller must schedule one ``flush()`` after the changes
    /// arriving now (the end of the tick); false when a flush is scheduled already or the
    /// event's call in flight takes the change along.
    public mutating func enqueue(event: String, change: PresenceChange, waiter: Waiter?) -> Bool {
        var queue = queues.removeValue(forKey: event) ?? EventQueue()
        if queue.pending.isEmpty && !queue.inFlight { ready.append(event) }
        queue.pending.append(Entry(change: change, waiter: waiter))
        let inFlight = queue.inFlight
        queues[event] = queue
        if inFlight || flushScheduled { return false }
        flushScheduled = true
        return true
    }

    /// The scheduled flush runs: one batch per ready event (the first `maxBatch` changes; the
    /// rest follow when that call completes).
    public mutating func flush() -> [Batch] {
        flushScheduled = false
        let events = ready
        ready.removeAll(keepingCapacity: true)
        return events.compactMap { takeBatch(of: $0) }
    }

    /// The event's call completed: the next batch of it to send, if changes waited meanwhile.
    public mutating func completed(event: String) -> Batch? {
        guard var queue = queues[event] else { return nil }
        queue.inFlight = false
        if queue.pending.isEmpty {
            queues[event] = nil
            return nil
        }
        queues[event] = queue
        return takeBatch(of: event)
    }

    private mutating func takeBatch(of event: String) -> Batch? {
        guard var queue = queues[event], !queue.pending.isEmpty, !queue.inFlight else { return nil }
        let count = min(maxBatch, queue.pending.count)
        let entries = Array(queue.pending.prefix(count))
        queue.pending.removeFirst(count)
        queue.inFlight = true
        queues[event] = queue
        return Batch(event: event, entries: entries)
    }
}

extension PresenceBatchStateMachine: Sendable where Waiter: Sendable {}
extension PresenceBatchStateMachine.EventQueue: Sendable where Waiter: Sendable {}
extension PresenceBatchStateMachine.Entry: Sendable where Waiter: Sendable {}
extension PresenceBatchStateMachine.Batch: Sendable where Waiter: Sendable {}
