import NIOCore

/// Reads the states of places batched per event (``QueueStore/stateBatch(event:seqs:)``): the
/// streams that open within one event-loop tick (a reconnect storm after a deploy, a burst of
/// browsers) cost one script call per event, not one each, with at most one call per event in
/// flight (``EventBatchStateMachine``).
public final class StateBatcher: Sendable {
    /// Counts script calls in `waitroom_state_batches_total`.
    private let batcher: EventBatcher<Int, PlaceState?>

    public init(store: QueueStore, maxBatch: Int = QueueStore.maxStateBatch) {
        self.batcher = EventBatcher(maxBatch: min(maxBatch, QueueStore.maxStateBatch),
                                    batchesCounter: "waitroom_state_batches_total") { event, seqs in
            store.stateBatch(event: event, seqs: seqs)
        }
    }

    /// The state of place `seq` of `event`, as ``QueueStore/state(event:seq:)`` reads it; `nil`
    /// for an unknown seq. The future completes on `eventLoop`.
    public func state(event: String, seq: Int, on eventLoop: any EventLoop) -> EventLoopFuture<PlaceState?> {
        let promise = eventLoop.makePromise(of: PlaceState?.self)
        batcher.enqueue(event: event, item: seq, waiter: promise, on: eventLoop)
        return promise.futureResult
    }
}
