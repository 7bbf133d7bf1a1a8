import Metrics
import NIOCore
import Synchronization

/// Runs an ``EventBatchStateMachine`` for one kind of request: schedules the flush at the end of
/// the enqueuing loop's tick, sends each batch with `call`, answers its waiters in order, and
/// sends the event's next batch when a call completes. ``JoinBatcher`` and ``PresenceBatcher``
/// are this with their own script call.
final class EventBatcher<Item: Sendable, Answer: Sendable>: Sendable {
    /// One script call: the answers of `items`, one each, in order.
    typealias Call = @Sendable (_ event: String, _ items: [Item]) -> EventLoopFuture<[Answer]>
    /// Told when a call failed, with the items that had no waiter to hear it.
    typealias Unanswered = @Sendable (_ event: String, _ items: [Item], _ error: any Error) -> Void

    private let state: Mutex<EventBatchStateMachine<Item, EventLoopPromise<Answer>>>
    private let call: Call
    private let unanswered: Unanswered?
    private let batches: Counter

    init(maxBatch: Int, batchesCounter: String, call: @escaping Call, unanswered: Unanswered? = nil) {
        self.state = Mutex(EventBatchStateMachine(maxBatch: maxBatch))
        self.call = call
        self.unanswered = unanswered
        self.batches = Counter(label: batchesCounter)
    }

    /// Queues `item`; `waiter` (if any) hears its answer or the call's error.
    func enqueue(event: String, item: Item, waiter: EventLoopPromise<Answer>?, on eventLoop: any EventLoop) {
        if state.withLock({ $0.enqueue(event: event, item: item, waiter: waiter) }) {
            eventLoop.execute { self.flush() }
        }
    }

    private func flush() {
        for batch in state.withLock({ $0.flush() }) { send(batch) }
    }

    private func send(_ batch: EventBatchStateMachine<Item, EventLoopPromise<Answer>>.Batch) {
        batches.increment()
        let entries = batch.entries
        call(batch.event, entries.map(\.item)).whenComplete { result in
            switch result {
            case .success(let answers):
                for (entry, answer) in zip(entries, answers) { entry.waiter?.succeed(answer) }
            case .failure(let error):
                let unheard = entries.filter { $0.waiter == nil }.map(\.item)
                if !unheard.isEmpty { self.unanswered?(batch.event, unheard, error) }
                for entry in entries { entry.waiter?.fail(error) }
            }
            if let next = self.state.withLock({ $0.completed(event: batch.event) }) { self.send(next) }
        }
    }
}
