import Metrics
import NIOCore
import Synchronization

/// Auto-batching of joins (``EventBatchStateMachine``): the joins of one event that arrive within
/// one event-loop tick go to Redis as one `join` script call
/// (``QueueStore/joinBatch(event:userIds:now:)``), and while that call is in flight the joins that
/// keep arriving wait and go out together when it completes. Nothing waits for a timer: an idle
/// process sends a join at the end of its tick; a busy one sends larger batches, which cost Redis
/// (and this process) far less per join than small ones.
public final class JoinBatcher: Sendable {
    private let store: QueueStore
    private let state: Mutex<EventBatchStateMachine<String?, EventLoopPromise<JoinResult>>>
    /// Script calls made; `waitroom_joins_total` / this is the mean batch size.
    private let batches = Counter(label: "waitroom_join_batches_total")

    /// A batcher over `store`; at most `maxBatch` joins per script call.
    public init(store: QueueStore, maxBatch: Int = 256) {
        self.store = store
        self.state = Mutex(EventBatchStateMachine(maxBatch: min(maxBatch, QueueStore.maxJoinBatch)))
    }

    /// Joins `event` as ``QueueStore/join(event:userId:now:)`` does, batched with the other joins
    /// of this tick (or of the event's call in flight). The future completes on `eventLoop`.
    public func join(event: String, userId: String?, on eventLoop: any EventLoop) -> EventLoopFuture<JoinResult> {
        let promise = eventLoop.makePromise(of: JoinResult.self)
        if state.withLock({ $0.enqueue(event: event, item: userId, waiter: promise) }) {
            eventLoop.execute { self.flush() }
        }
        return promise.futureResult
    }

    private func flush() {
        for batch in state.withLock({ $0.flush() }) {
            send(batch)
        }
    }

    private func send(_ batch: EventBatchStateMachine<String?, EventLoopPromise<JoinResult>>.Batch) {
        let entries = batch.entries
        batches.increment()
        store.joinBatch(event: batch.event, userIds: entries.map(\.item)).whenComplete { result in
            switch result {
            case .success(let results):
                for (entry, joined) in zip(entries, results) { entry.waiter?.succeed(joined) }
            case .failure(let error):
                for entry in entries { entry.waiter?.fail(error) }
            }
            if let next = self.state.withLock({ $0.completed(event: batch.event) }) { self.send(next) }
        }
    }
}
