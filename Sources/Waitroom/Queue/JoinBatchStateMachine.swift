/// Which joins go to Redis together: the joins of one event that arrive before the batcher's
/// flush runs (the end of the current event-loop tick) become one script call. A pure value
/// type; ``JoinBatcher`` executes its actions.
///
/// `Waiter` is whatever answers one join (a promise in the server, a plain value in tests).
public struct JoinBatchStateMachine<Waiter> {
    /// One join waiting to be sent.
    public struct Entry {
        public var userId: String?
        public var waiter: Waiter
    }

    /// The joins of one event that go out in one script call, in arrival order.
    public struct Batch {
        public var event: String
        public var entries: [Entry]
    }

    /// What to do after ``enqueue(event:userId:waiter:)``.
    public enum EnqueueAction {
        /// Nothing yet: a flush is already scheduled.
        case none
        /// Schedule one ``flush()`` after the joins that are arriving now (end of the tick).
        case scheduleFlush
        /// Send this batch now: it is full. (A scheduled flush still comes and sends the rest.)
        case send(Batch)
    }

    /// The most joins in one batch.
    public let maxBatch: Int
    private var pending: [String: [Entry]] = [:]
    /// Events in the order their first pending join arrived (so flushes are fair and repeatable).
    private var events: [String] = []
    private var flushScheduled = false

    /// A state machine that sends at most `maxBatch` joins per batch.
    public init(maxBatch: Int) {
        precondition(maxBatch >= 1, "maxBatch must be at least 1")
        self.maxBatch = maxBatch
    }

    /// How many joins wait to be sent.
    public var pendingCount: Int { pending.values.reduce(0) { $0 + $1.count } }

    /// A join arrived.
    public mutating func enqueue(event: String, userId: String?, waiter: Waiter) -> EnqueueAction {
        let entry = Entry(userId: userId, waiter: waiter)
        if pending[event] == nil {
            events.append(event)
            pending[event] = [entry]
        } else {
            pending[event]!.append(entry)
        }
        if pending[event]!.count >= maxBatch {
            let entries = pending.removeValue(forKey: event)!
            events.removeAll { $0 == event }
            return .send(Batch(event: event, entries: entries))
        }
        if flushScheduled { return .none }
        flushScheduled = true
        return .scheduleFlush
    }

    /// The scheduled flush runs: every pending batch goes out, one per event.
    public mutating func flush() -> [Batch] {
        flushScheduled = false
        guard !events.isEmpty else { return [] }
        let batches = events.map { Batch(event: $0, entries: pending[$0] ?? []) }
        events.removeAll(keepingCapacity: true)
        pending.removeAll(keepingCapacity: true)
        return batches
    }
}

extension JoinBatchStateMachine: Sendable where Waiter: Sendable {}
extension JoinBatchStateMachine.Entry: Sendable where Waiter: Sendable {}
extension JoinBatchStateMachine.Batch: Sendable where Waiter: Sendable {}
extension JoinBatchStateMachine.EnqueueAction: Sendable where Waiter: Sendable {}
