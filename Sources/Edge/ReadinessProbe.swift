import Synchronization

/// Runs readiness checks concurrently, each bounded by its timeout.
public struct ReadinessProbe: Sendable {
    /// The checks, in report order.
    public var checks: [ReadinessCheck]
    /// The timeout of checks that set none.
    public var defaultTimeout: Duration

    /// Creates a probe.
    public init(checks: [ReadinessCheck], defaultTimeout: Duration = .seconds(1)) {
        self.checks = checks
        self.defaultTimeout = defaultTimeout
    }

    /// Runs every check once, concurrently; returns within about the longest timeout.
    public func run() async -> ReadinessReport {
        let checks = self.checks
        let defaultTimeout = self.defaultTimeout
        let outcomes = await withTaskGroup(of: (Int, ReadinessReport.Outcome).self) { group in
            for (index, check) in checks.enumerated() {
                group.addTask {
                    (index, await ReadinessProbe.run(check.check, timeout: check.timeout ?? defaultTimeout))
                }
            }
            var outcomes = [ReadinessReport.Outcome](repeating: .timedOut, count: checks.count)
            for await (index, outcome) in group {
                outcomes[index] = outcome
            }
            return outcomes
        }
        return ReadinessReport(results: zip(checks, outcomes).map { ($0.name, $1) })
    }

    /// Races `operation` against `timeout` with unstructured tasks, so that an operation that
    /// ignores cancellation cannot hold the caller past the timeout (it is cancelled and left).
    static func run(
        _ operation: @escaping @Sendable () async throws -> Void,
        timeout: Duration
    ) async -> ReadinessReport.Outcome {
        let race = Race()
        return await withCheckedContinuation { continuation in
            race.install(continuation)
            let work = Task {
                do {
                    try await operation()
                    race.finish(.ok)
                } catch {
                    race.finish(.failed(String(describing: error)))
                }
            }
            let timer = Task {
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled { race.finish(.timedOut) }
            }
            race.setTasks(work: work, timer: timer)
        }
    }

    /// First finisher wins; the loser is cancelled. Guarded by a `Mutex`.
    private final class Race: Sendable {
        private struct State {
            var continuation: CheckedContinuation<ReadinessReport.Outcome, Never>?
            var outcome: ReadinessReport.Outcome?
            var work: Task<Void, Never>?
            var timer: Task<Void, Never>?
        }

        private let state = Mutex(State())

        func install(_ continuation: CheckedContinuation<ReadinessReport.Outcome, Never>) {
            self.state.withLock { $0.continuation = continuation }
        }

        func setTasks(work: Task<Void, Never>, timer: Task<Void, Never>) {
            let finished = self.state.withLock { state -> Bool in
                if state.outcome != nil { return true }
                state.work = work
                state.timer = timer
                return false
            }
            if finished {
                work.cancel()
                timer.cancel()
            }
        }

        func finish(_ outcome: ReadinessReport.Outcome) {
            let (continuation, work, timer) = self.state.withLock { state in
                guard state.outcome == nil else {
                    return (nil as CheckedContinuation<ReadinessReport.Outcome, Never>?, nil as Task<Void, Never>?, nil as Task<Void, Never>?)
                }
                state.outcome = outcome
                defer {
                    state.continuation = nil
                    state.work = nil
                    state.timer = nil
                }
                return (state.continuation, state.work, state.timer)
            }
            work?.cancel()
            timer?.cancel()
            continuation?.resume(returning: outcome)
        }
    }
}
