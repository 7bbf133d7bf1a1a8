import NIOCore

/// A `TaskExecutor` that runs every job on one NIO event loop.
///
/// The admitter runs on a loop (and a Redis connection) of its own, so that it keeps its 100 ms
/// ticks when the server's loops are saturated by streams and checkout: its jobs no longer queue
/// behind position walks on the shared loops or behind other tasks on the global executor, and a
/// thread that sleeps between ticks is scheduled promptly by the kernel when it wakes.
public final class EventLoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    /// The loop every job runs on.
    public let eventLoop: any EventLoop

    /// An executor over `eventLoop`.
    public init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
