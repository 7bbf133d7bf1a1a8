import NIOCore

/// Auto-batching of joins (``EventBatchStateMachine``): the joins of one event that arrive within
/// one event-loop tick go to Redis as one `join` script call
/// (``QueueStore/joinBatch(event:userIds:now:)``), and while that call is in flight the joins that
/// keep arriving wait and go out together when it completes. Nothing waits for a timer: an idle
/// process sends a join at the end of its tick; a busy one sends larger batches, which cost Redis
/// (and this process) far less per join than small ones.
public final class JoinBatcher: Sendable {
    /// Counts script calls in `waitroom_join_batches_total`; `waitroom_joins_total` / that is the
    /// mean batch size.
    private let batcher: EventBatcher<String?, JoinResult>

    /// A batcher over `store`; at most `maxBatch` joins per script call.
    public init(store: QueueStore, maxBatch: Int = 256) {
        self.batcher = EventBatcher(maxBatch: min(maxBatch, QueueStore.maxJoinBatch),
                                    batchesCounter: "waitroom_join_batches_total") { event, userIds in
            store.joinBatch(event: event, userIds: userIds)
        }
    }

    /// Joins `event` as ``QueueStore/join(event:userId:now:)`` does, batched with the other joins
    /// of this tick (or of the event's call in flight). The future completes on `eventLoop`.
    public func join(event: String, userId: String?, on eventLoop: any EventLoop) -> EventLoopFuture<JoinResult> {
        let promise = eventLoop.makePromise(of: JoinResult.self)
        batcher.enqueue(event: event, item: userId, waiter: promise, on: eventLoop)
        return promise.futureResult
    }
}
