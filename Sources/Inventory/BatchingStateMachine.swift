import DequeModule

/// Group commit for one lock set: while a batch is in the database, new operations queue; when
/// it finishes, everything queued (up to `maxBatchSize`) goes as the next batch. Nothing waits
/// for a timer: under light load a batch is one operation, under a rush it is many, and the
/// class-row lock is taken once per batch instead of once per request.
struct BatchingStateMachine<Element> {
    private var pending = Deque<Element>()
    private(set) var isRunning = false
    let maxBatchSize: Int

    init(maxBatchSize: Int) {
        precondition(maxBatchSize >= 1)
        self.maxBatchSize = maxBatchSize
    }

    /// Queues `element`; returns the batch to run now if none is running.
    mutating func submit(_ element: Element) -> [Element]? {
        pending.append(element)
        return isRunning ? nil : takeBatch()
    }

    /// The running batch is done; returns the next one, or `nil` when nothing waits.
    mutating func batchFinished() -> [Element]? {
        precondition(isRunning, "no batch is running")
        isRunning = false
        return pending.isEmpty ? nil : takeBatch()
    }

    var isIdle: Bool { !isRunning && pending.isEmpty }
    var queued: Int { pending.count }

    private mutating func takeBatch() -> [Element] {
        isRunning = true
        let n = min(maxBatchSize, pending.count)
        var batch: [Element] = []
        batch.reserveCapacity(n)
        for _ in 0..<n { batch.append(pending.removeFirst()) }
        return batch
    }
}
