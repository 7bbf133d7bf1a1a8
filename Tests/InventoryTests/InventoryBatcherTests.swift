import Dispatch
import Synchronization
import Testing
@testable import Inventory

/// The batcher with two batches in flight (the order of the batches themselves is the state
/// machine's, tested in `BatchingStateMachineTests`).
@Suite("Inventory batcher") struct InventoryBatcherTests {
    @Test func withTwoInFlightEveryOperationIsPreparedOnceAndGetsItsOwnOutcome() async throws {
        let prepared = Mutex<[Int64]>([])
        let inFlight = Atomic<Int>(0)
        let most = Atomic<Int>(0)
        let batcher = InventoryBatcher(maxBatchSize: 4, maxInFlight: 2) { _, operations in
            // Called under the batcher's lock: record the order the batches are put on their session.
            prepared.withLock { $0 += operations.map(\.holder) }
            return {
                let now = inFlight.add(1, ordering: .relaxed).newValue
                _ = most.max(now, ordering: .relaxed)
                try await Task.sleep(for: .microseconds(Int.random(in: 50...2_000)))
                inFlight.subtract(1, ordering: .relaxed)
                return operations.map { InventoryOutcome(status: 200 + Int($0.holder % 50), error: nil, message: nil) }
            }
        }
        let lockSet = InventoryBatcher.LockSet(eventID: "e", classIDs: ["ga"])
        let count = 400
        let outcomes = try await withThrowingTaskGroup(of: (Int64, Int).self) { group in
            for holder in 0..<Int64(count) {
                group.addTask {
                    let outcome = try await batcher.submit(InventoryOperation(op: .release, holder: holder), on: lockSet)
                    return (holder, outcome.status)
                }
                if holder % 8 == 0 { try await Task.sleep(for: .microseconds(200)) }
            }
            var all: [(Int64, Int)] = []
            for try await result in group { all.append(result) }
            return all
        }
        #expect(outcomes.count == count)
        for (holder, status) in outcomes { #expect(status == 200 + Int(holder % 50)) }
        let order = prepared.withLock { $0 }
        // Every operation was prepared once, at most two batches ran at a time, and two did.
        #expect(order.count == count && Set(order).count == count)
        #expect(most.load(ordering: .relaxed) <= 2)
        #expect(most.load(ordering: .relaxed) == 2, "two batches should have overlapped at some point")
        #expect(batcher.queued == 0)
    }

    /// An executor that runs its jobs on a thread of its own, one after the other.
    final class ThreadExecutor: TaskExecutor, @unchecked Sendable {
        private let queue = DispatchQueue(label: "batcher-test-executor")
        private let key = DispatchSpecificKey<Bool>()
        let jobs = Atomic<Int>(0)
        init() { queue.setSpecific(key: key, value: true) }
        /// True on the executor's queue.
        var isCurrent: Bool { DispatchQueue.getSpecific(key: key) == true }
        func enqueue(_ job: consuming ExecutorJob) {
            jobs.add(1, ordering: .relaxed)
            let job = UnownedJob(job)
            queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
        }
    }

    @Test func theBatchesTasksRunOnTheExecutorGiven() async throws {
        let executor = ThreadExecutor()
        let runs = Atomic<Int>(0)
        let elsewhere = Atomic<Int>(0)
        let batcher = InventoryBatcher(maxBatchSize: 8, maxInFlight: 2, executor: executor) { _, operations in
            return {
                // The batch's run is called by its drain task: on the executor given, before and
                // after it waits.
                runs.add(1, ordering: .relaxed)
                if !executor.isCurrent { elsewhere.add(1, ordering: .relaxed) }
                try await Task.sleep(for: .microseconds(300))
                if !executor.isCurrent { elsewhere.add(1, ordering: .relaxed) }
                return operations.map { _ in InventoryOutcome(status: 204, error: nil, message: nil) }
            }
        }
        let lockSet = InventoryBatcher.LockSet(eventID: "e", classIDs: ["ga"])
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for holder in 0..<Int64(40) {
                group.addTask { try await batcher.submit(InventoryOperation(op: .release, holder: holder), on: lockSet).status }
            }
            var all: [Int] = []
            for try await status in group { all.append(status) }
            return all
        }
        #expect(statuses == Array(repeating: 204, count: 40))
        #expect(runs.load(ordering: .relaxed) >= 5)
        #expect(elsewhere.load(ordering: .relaxed) == 0)
        // Every run resumed after its sleep through the executor (and each drain began there).
        #expect(executor.jobs.load(ordering: .relaxed) >= runs.load(ordering: .relaxed) + 1)
    }
}
