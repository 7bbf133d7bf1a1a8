/// Wakes a background loop early: `ring()` from anywhere; `wait(atMost:)` returns at the first
/// ring since the last wait, or when the time is up. One waiter at a time.
public final class Doorbell: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    public init() {
        (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    public func ring() { continuation.yield() }

    public func wait(atMost limit: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [stream] in
                var it = stream.makeAsyncIterator()
                _ = await it.next()
            }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            group.cancelAll()
        }
    }
}
