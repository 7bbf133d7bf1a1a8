import Synchronization

/// Runs inventory operations through one combined transaction per lock set (an event and the
/// sorted ticket classes an operation touches): see `BatchingStateMachine`. One batch per lock
/// set is in flight per process. With several worker processes, a lock set's operations are
/// handed to the one that owns it (`CombinerPeers`), so its batches come from one process; other
/// machines' batches (and those of a process that could not reach the owner) queue on the row
/// locks in PostgreSQL.
final class InventoryBatcher: Sendable {
    struct LockSet: Hashable, Sendable {
        var eventID: String
        var classIDs: [String]
    }

    /// A batch's database work: `Prepare` is called with the queue's lock held, in the order the
    /// batches are taken (with two in flight on one pipelined session, this is where the batch
    /// is put on the session, so batches of a lock set commit in the order they were formed);
    /// the `Run` it returns is awaited outside the lock.
    typealias Run = @Sendable () async throws -> [InventoryOutcome]
    typealias Prepare = @Sendable (LockSet, [InventoryOperation]) -> Run

    private struct Waiting: Sendable {
        var operation: InventoryOperation
        var continuation: CheckedContinuation<InventoryOutcome, any Error>
    }

    private let maxBatchSize: Int
    private let maxInFlight: Int
    private let prepare: Prepare
    private let executor: (any TaskExecutor)?
    private let queues = Mutex<[LockSet: BatchingStateMachine<Waiting>]>([:])

    /// `executor`, when given, runs the batches' tasks (awaiting the database, reading the
    /// outcomes, resuming the callers): an event loop's, so that the callers on that loop resume
    /// without a thread switch and no pool thread wakes per batch.
    init(maxBatchSize: Int, maxInFlight: Int = 1, executor: (any TaskExecutor)? = nil, prepare: @escaping Prepare) {
        self.maxBatchSize = maxBatchSize
        self.maxInFlight = maxInFlight
        self.executor = executor
        self.prepare = prepare
    }

    /// Queues `operation` on its lock set and returns its outcome once its batch committed.
    func submit(_ operation: InventoryOperation, on lockSet: LockSet) async throws -> InventoryOutcome {
        try await withCheckedThrowingContinuation { continuation in
            let started = queues.withLock { queues -> (batch: [Waiting], run: Run)? in
                var machine = queues[lockSet] ?? BatchingStateMachine(maxBatchSize: maxBatchSize, maxInFlight: maxInFlight)
                let batch = machine.submit(Waiting(operation: operation, continuation: continuation))
                queues[lockSet] = machine
                return batch.map { ($0, prepare(lockSet, $0.map(\.operation))) }
            }
            if let started {
                Task(executorPreference: executor) { await self.drain(lockSet, startingWith: started) }
            }
        }
    }

    /// Operations queued but not yet in a batch, over every lock set (for metrics).
    var queued: Int { queues.withLock { $0.values.reduce(0) { $0 + $1.queued } } }

    private func drain(_ lockSet: LockSet, startingWith first: (batch: [Waiting], run: Run)) async {
        var (batch, run) = first
        while true {
            do {
                let outcomes = try await run()
                guard outcomes.count == batch.count else {
                    throw InventoryError(.unexpectedReply, "\(outcomes.count) outcomes for \(batch.count) operations")
                }
                for (waiting, outcome) in zip(batch, outcomes) { waiting.continuation.resume(returning: outcome) }
            } catch {
                for waiting in batch { waiting.continuation.resume(throwing: error) }
            }
            let next = queues.withLock { queues -> (batch: [Waiting], run: Run)? in
                guard var machine = queues[lockSet] else { return nil }
                let next = machine.batchFinished()
                queues[lockSet] = machine.isIdle ? nil : machine
                return next.map { ($0, prepare(lockSet, $0.map(\.operation))) }
            }
            guard let next else { return }
            (batch, run) = next
        }
    }
}
