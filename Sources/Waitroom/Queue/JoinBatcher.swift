import Metrics
import NIOCore
import Synchronization

/// Auto-batching of joins: the joins of one event that arrive within one event-loop tick go to
/// Redis as one `join` script call (``QueueStore/joinBatch(event:userIds:now:)``), which costs
/// Redis far less per join than one call each. Nothing waits for a timer: the flush is the next
/// task of the event loop, after the reads of the current tick.
public final class JoinBatcher: Sendable {
    private let store: QueueStore
    private let state: Mutex<JoinBatchStateMachine<EventLoopPromise<JoinResult>>>
    /// Script calls made; `waitroom_joins_total` / this is the mean batch size.
    private let batches = Counter(label: "waitroom_join_batches_total")

    /// A batcher over `store`; at most `maxBatch` joins per script call.
    public init(store: QueueStore, maxBatch: Int = 256) {
        self.store = store
        self.state = Mutex(JoinBatchStateMachine(maxBatch: min(maxBatch, QueueStore.maxJoinBatch)))
    }

    /// Joins `event` as ``QueueStore/join(event:userId:now:)`` does, batched with the other joins
    /// of this tick. The future completes on `eventLoop`.
    public func join(event: String, userId: String?, on eventLoop: any EventLoop) -> EventLoopFuture<JoinResult> {
        let promise = eventLoop.makePromise(of: JoinResult.self)
        let action = state.withLock { $0.enqueue(event: event, userId: userId, waiter: promise) }
        switch action {
        case .none:
            break
        case .scheduleFlush:
            eventLoop.execute { self.flush() }
        case .send(let batch):
            send(batch)
        }
        return promise.futureResult
    }

    private func flush() {
        for batch in state.withLock({ $0.flush() }) {
            send(batch)
        }
    }

    private func send(_ batch: JoinBatchStateMachine<EventLoopPromise<JoinResult>>.Batch) {
        let entries = batch.entries
        batches.increment()
        store.joinBatch(event: batch.event, userIds: entries.map(\.userId)).whenComplete { result in
            switch result {
            case .success(let results):
                for (entry, joined) in zip(entries, results) { entry.waiter.succeed(joined) }
            case .failure(let error):
                for entry in entries { entry.waiter.fail(error) }
            }
        }
    }
}
