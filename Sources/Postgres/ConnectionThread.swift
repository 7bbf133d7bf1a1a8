import DequeModule
import Foundation
import ThreadSupport

/// A dedicated OS thread running jobs in FIFO order. libpq blocks, so each connection owns
/// one of these and all libpq calls for that connection run here — never on an event loop
/// or in Swift's cooperative pool. Jobs always run (no cancellation), so cleanup jobs are
/// never lost.
final class ConnectionThread: @unchecked Sendable {
    // `jobs` and `stopping` are guarded by `condition`; everything else is immutable.
    private let condition = NSCondition()
    private var jobs = Deque<() -> Void>()
    private var stopping = false

    init(name: String) {
        let thread = Thread { [self] in
            ThreadName.set(name)
            self.loop()
        }
        thread.stackSize = 512 * 1024
        thread.start()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if jobs.isEmpty && stopping {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }

    /// Enqueues `job`; returns false (and drops it) if the thread is stopping.
    @discardableResult
    func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    /// Runs `body` on the thread and returns its result to the awaiting task.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            let accepted = submit {
                continuation.resume(with: Result(catching: body))
            }
            if !accepted {
                continuation.resume(throwing: PostgresError(code: .closed, message: "connection is closed"))
            }
        }
    }

    /// Lets queued jobs finish, then ends the thread.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }
}
