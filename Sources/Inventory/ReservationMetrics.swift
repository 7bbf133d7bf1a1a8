import Metrics

/// The Inventory's metrics, created once.
struct ReservationMetrics: Sendable {
    private let batchSize = Recorder(label: "inventory_batch_size")
    private let lockWait = Metrics.Timer(label: "inventory_lock_wait_seconds", preferredDisplayUnit: .seconds)
    private let batchDuration = Metrics.Timer(label: "inventory_batch_seconds", preferredDisplayUnit: .seconds)
    private let outcomes: [String: Counter]
    /// Operations handed to another process's combiner, by result: `ok` (answered there),
    /// `local` (it could not be reached; run here).
    private let forwardedOK = Counter(label: "inventory_forwarded_total", dimensions: [("result", "ok")])
    private let forwardedLocal = Counter(label: "inventory_forwarded_total", dimensions: [("result", "local")])

    init() {
        var outcomes: [String: Counter] = [:]
        for op in InventoryOperation.Kind.allCases {
            for result in ["ok", "conflict", "invalid", "not_found"] {
                outcomes["\(op.rawValue)/\(result)"] = Counter(label: "inventory_operations_total",
                                                               dimensions: [("operation", op.rawValue), ("result", result)])
            }
        }
        self.outcomes = outcomes
    }

    func batch(size: Int, lockWaitMicros: Int64, duration: Duration) {
        batchSize.record(size)
        lockWait.recordMicroseconds(lockWaitMicros)
        batchDuration.record(duration: duration)
    }

    func forwarded() { forwardedOK.increment() }
    func forwardFailed() { forwardedLocal.increment() }

    func count(_ op: InventoryOperation.Kind, _ outcome: InventoryOutcome) {
        let result: String
        switch outcome.status {
        case 200..<300: result = "ok"
        case 404: result = "not_found"
        case 409: result = "conflict"
        default: result = "invalid"
        }
        outcomes["\(op.rawValue)/\(result)"]?.increment()
    }
}

private extension Metrics.Timer {
    func record(duration: Duration) {
        let (seconds, atto) = duration.components
        recordNanoseconds(seconds * 1_000_000_000 + atto / 1_000_000_000)
    }
}
