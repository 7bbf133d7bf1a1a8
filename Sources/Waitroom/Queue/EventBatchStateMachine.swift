/// Which requests of one kind go to Redis together, per event: joins (``JoinBatcher``) and
/// stream-presence changes (``PresenceBatcher``).
///
/// The requests of one event that arrive before the flush (the end of the current event-loop
/// tick) become one script call, and at most one call per event is in flight: requests that
/// arrive meanwhile wait for it and go out together when it completes. An idle process sends a
/// lone request at the end of its tick, as before; a busy one sends batches as large as what
/// arrives during one call (group commit), so Redis's cost per call is spread over more requests
/// the busier it gets. And the requests of an event reach Redis in the order they arrived,
/// whichever pooled connection carries each call.
///
/// A pure value type; `Waiter` answers one request (a promise in the server, a value in tests).
public struct EventBatchStateMachine<Item, Waiter> {
    public struct Entry {
        public var item: Item
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

    /// The most requests in one batch.
    public let maxBatch: Int
    private var queues: [String: EventQueue] = [:]
    /// Events with pending requests and no call in flight, in the order their first request came.
    private var ready: [String] = []
    private var flushScheduled = false

    public init(maxBatch: Int) {
        precondition(maxBatch >= 1, "maxBatch must be at least 1")
        self.maxBatch = maxBatch
    }

    /// Requests waiting to be sent (not counting those in flight).
    public var pendingCount: Int { queues.values.reduce(0) { $0 + $1.pending.count } }

    /// Events with a call in flight.
    public var inFlightCount: Int { queues.values.reduce(0) { $0 + ($1.inFlight ? 1 : 0) } }

    /// A request arrived. True when the caller must schedule one ``flush()`` after the requests
    /// arriving now (the end of the tick); false when a flush is scheduled already or the
    /// event's call in flight takes the request along when it completes.
    public mutating func enqueue(event: String, item: Item, waiter: Waiter?) -> Bool {
        var queue = queues.removeValue(forKey: event) ?? EventQueue()
        if queue.pending.isEmpty && !queue.inFlight { ready.append(event) }
        queue.pending.append(Entry(item: item, waiter: waiter))
        let inFlight = queue.inFlight
        queues[event] = queue
        if inFlight || flushScheduled { return false }
        flushScheduled = true
        return true
    }

    /// The scheduled flush runs: one batch per ready event (its first `maxBatch` requests; the
    /// rest follow when that call completes).
    public mutating func flush() -> [Batch] {
        flushScheduled = false
        let events = ready
        ready.removeAll(keepingCapacity: true)
        return events.compactMap { takeBatch(of: $0) }
    }

    /// The event's call completed (either way): the next batch of it to send, if requests came
    /// meanwhile.
    public mutating func completed(event: String) -> Batch? {
        guard var queue = queues.removeValue(forKey: event) else { return nil }
        queue.inFlight = false
        if queue.pending.isEmpty { return nil }
        queues[event] = queue
        return takeBatch(of: event)
    }

    /// Takes the event's next batch (at most `maxBatch`) and marks its call in flight. The queue
    /// is taken out of the dictionary while it changes, so its array is never copied.
    private mutating func takeBatch(of event: String) -> Batch? {
        guard var queue = queues.removeValue(forKey: event) else { return nil }
        defer { queues[event] = queue }
        guard !queue.pending.isEmpty, !queue.inFlight else { return nil }
        var entries: [Entry] = []
        if queue.pending.count <= maxBatch {
            swap(&entries, &queue.pending)
        } else {
            entries = Array(queue.pending.prefix(maxBatch))
            queue.pending.removeFirst(maxBatch)
        }
        queue.inFlight = true
        return Batch(event: event, entries: entries)
    }
}

extension EventBatchStateMachine: Sendable where Item: Sendable, Waiter: Sendable {}
extension EventBatchStateMachine.EventQueue: Sendable where Item: Sendable, Waiter: Sendable {}
extension EventBatchStateMachine.Entry: Sendable where Item: Sendable, Waiter: Sendable {}
extension EventBatchStateMachine.Batch: Sendable where Item: Sendable, Waiter: Sendable {}
