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

    typealias Execute = @Sendable (LockSet, [InventoryOperation]) async throws -> [InventoryOutcome]

    private struct Waiting: Sendable {
        var operation: InventoryOperation
        var continuation: CheckedContinuation<InventoryOutcome, any Error>
    }

    private let maxBatchSize: Int
    private let execute: Execute
    private let queues = Mutex<[LockSet: BatchingStateMachine<Waiting>]>([:])

    init(maxBatchSize: Int, execute: @escaping Execute) {
        self.maxBatchSize = maxBatchSize
        self.execute = execute
    }

    /// Queues `operation` on its lock set and returns its outcome once its batch committed.
    func submit(_ operation: InventoryOperation, on lockSet: LockSet) async throws -> InventoryOutcome {
        try await withCheckedThrowingContinuation { continuation in
            let batch = queues.withLock { queues in
                var machine = queues[lockSet] ?? BatchingStateMachine(maxBatchSize: maxBatchSize)
                let batch = machine.submit(Waiting(operation: operation, continuation: continuation))
                queues[lockSet] = machine
                return batch
            }
            if let batch {
                Task { await self.drain(lockSet, startingWith: batch) }
            }
        }
    }

    /// Operations queued but not yet in a batch, over every lock set (for metrics).
    var queued: Int { queues.withLock { $0.values.reduce(0) { $0 + $1.queued } } }

    private func drain(_ lockSet: LockSet, startingWith first: [Waiting]) async {
        var batch = first
        while true {
            do {
                let outcomes = try await execute(lockSet, batch.map(\.operation))
                guard outcomes.count == batch.count else {
                    throw InventoryError(.unexpectedReply, "\(outcomes.count) outcomes for \(batch.count) operations")
                }
                for (waiting, outcome) in zip(batch, outcomes) { waiting.continuation.resume(returning: outcome) }
            } catch {
                for waiting in batch { waiting.continuation.resume(throwing: error) }
            }
            let next = queues.withLock { queues -> [Waiting]? in
                guard var machine = queues[lockSet] else { return nil }
                let next = machine.batchFinished()
                queues[lockSet] = machine.isIdle ? nil : machine
                return next
            }
            guard let next else { return }
            batch = next
        }
    }
}
