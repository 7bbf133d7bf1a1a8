import Logging
import Metrics
import NIOCore

/// A stream-presence change of one edge process: the first local stream of an order opened, or
/// the last one closed.
public enum PresenceChange: Hashable, Sendable {
    case connect(Int)
    case disconnect(Int)
}

/// Sends the stream-presence changes of this edge process (``QueueStore/connect(event:order:edgeID:now:)``
/// and `disconnect`) batched per event, in the order they happened, with at most one script call
/// per event in flight (``EventBatchStateMachine``). A connect is answered when its call
/// completes; a disconnect is not awaited (a failure is logged: the place then looks connected
/// until the edge's heartbeat lapses, and is abandoned after that).
public final class PresenceBatcher: Sendable {
    /// Counts script calls in `waitroom_presence_batches_total`; presence changes / that is the
    /// mean batch size.
    private let batcher: EventBatcher<PresenceChange, Bool>
    private let changes = Counter(label: "waitroom_presence_changes_total")

    public init(store: QueueStore, edgeID: String, logger: Logger, maxBatch: Int = QueueStore.maxPresenceBatch) {
        self.batcher = EventBatcher(
            maxBatch: min(maxBatch, QueueStore.maxPresenceBatch),
            batchesCounter: "waitroom_presence_batches_total",
            call: { event, changes in store.presenceBatch(event: event, edgeID: edgeID, changes: changes) },
            unanswered: { event, lost, error in
                logger.warning("presence changes not recorded", metadata: [
                    "event": "\(event)", "disconnects": "\(lost.count)", "error": "\(error)"])
            }
        )
    }

    /// The first local stream of `order` opened; the future tells whether the order waits in line.
    public func connect(event: String, order: Int, on eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        let promise = eventLoop.makePromise(of: Bool.self)
        changes.increment()
        batcher.enqueue(event: event, item: .connect(order), waiter: promise, on: eventLoop)
        return promise.futureResult
    }

    /// The last local stream of `order` closed.
    public func disconnect(event: String, order: Int, on eventLoop: any EventLoop) {
        changes.increment()
        batcher.enqueue(event: event, item: .disconnect(order), waiter: nil, on: eventLoop)
    }
}
