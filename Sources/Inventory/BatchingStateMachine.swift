import DequeModule

/// Group commit for one lock set: while a batch is in the database, new operations queue; when
/// it finishes, everything queued (up to `maxBatchSize`) goes as the next batch. Nothing waits
/// for a timer: under light load a batch is one operation, under a rush it is many, and the
/// class-row lock is taken once per batch instead of once per request.
struct BatchingStateMachine<Element> {
    private var pending = Deque<Element>()
    /// Batches in the database now (at most `maxInFlight`).
    private(set) var running = 0
    let maxBatchSize: Int
    /// Batches that may be in the database at once: 1, or more when they run one after the other
    /// on one pipelined session (``InventoryBatcher``), so the next is there when one commits.
    let maxInFlight: Int

    init(maxBatchSize: Int, maxInFlight: Int = 1) {
        precondition(maxBatchSize >= 1 && maxInFlight >= 1)
        self.maxBatchSize = maxBatchSize
        self.maxInFlight = maxInFlight
    }

    var isRunning: Bool { running > 0 }

    /// Queues `element`; returns the batch to run now if fewer than `maxInFlight` are running.
    mutating func submit(_ element: Element) -> [Element]? {
        pending.append(element)
        return running < maxInFlight ? takeBatch() : nil
    }

    /// A running batch is done; returns the next one, or `nil` when nothing waits.
    mutating func batchFinished() -> [Element]? {
        precondition(running > 0, "no batch is running")
        running -= 1
        return pending.isEmpty ? nil : takeBatch()
    }

    var isIdle: Bool { running == 0 && pending.isEmpty }
    var queued: Int { pending.count }

    private mutating func takeBatch() -> [Element] {
        running += 1
        let n = min(maxBatchSize, pending.count)
        var batch: [Element] = []
        batch.reserveCapacity(n)
        for _ in 0..<n { batch.append(pending.removeFirst()) }
        return batch
    }
}
