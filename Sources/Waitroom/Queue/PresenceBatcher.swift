import Logging
import Metrics
import NIOCore
import Synchronization

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
    private let store: QueueStore
    private let edgeID: String
    private let logger: Logger
    private let state: Mutex<EventBatchStateMachine<PresenceChange, EventLoopPromise<Bool>>>
    /// Script calls made; presence changes / this is the mean batch size.
    private let batches = Counter(label: "waitroom_presence_batches_total")
    private let changes = Counter(label: "waitroom_presence_changes_total")

    public init(store: QueueStore, edgeID: String, logger: Logger, maxBatch: Int = QueueStore.maxPresenceBatch) {
        self.store = store
        self.edgeID = edgeID
        self.logger = logger
        self.state = Mutex(EventBatchStateMachine(maxBatch: min(maxBatch, QueueStore.maxPresenceBatch)))
    }

    /// The first local stream of `order` opened; the future tells whether the order waits in line.
    public func connect(event: String, order: Int, on eventLoop: any EventLoop) -> EventLoopFuture<Bool> {
        let promise = eventLoop.makePromise(of: Bool.self)
        enqueue(event: event, change: .connect(order), waiter: promise, on: eventLoop)
        return promise.futureResult
    }

    /// The last local stream of `order` closed.
    public func disconnect(event: String, order: Int, on eventLoop: any EventLoop) {
        enqueue(event: event, change: .disconnect(order), waiter: nil, on: eventLoop)
    }

    private func enqueue(event: String, change: PresenceChange, waiter: EventLoopPromise<Bool>?, on eventLoop: any EventLoop) {
        changes.increment()
        if state.withLock({ $0.enqueue(event: event, item: change, waiter: waiter) }) {
            eventLoop.execute { self.flush() }
        }
    }

    private func flush() {
        for batch in state.withLock({ $0.flush() }) { send(batch) }
    }

    private func send(_ batch: EventBatchStateMachine<PresenceChange, EventLoopPromise<Bool>>.Batch) {
        batches.increment()
        let entries = batch.entries
        store.presenceBatch(event: batch.event, edgeID: edgeID, changes: entries.map(\.item)).whenComplete { result in
            switch result {
            case .success(let waiting):
                for (entry, flag) in zip(entries, waiting) { entry.waiter?.succeed(flag) }
            case .failure(let error):
                let lost = entries.filter { $0.waiter == nil }.count
                if lost > 0 {
                    self.logger.warning("presence changes not recorded", metadata: [
                        "event": "\(batch.event)", "disconnects": "\(lost)", "error": "\(error)"])
                }
                for entry in entries { entry.waiter?.fail(error) }
            }
            if let next = self.state.withLock({ $0.completed(event: batch.event) }) { self.send(next) }
        }
    }
}
