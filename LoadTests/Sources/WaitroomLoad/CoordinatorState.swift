import Foundation
import Histogram
import LoadKit

/// What the coordinator knows about its children, shared between the pipe handlers (event loop)
/// and the progress loop (a task).
///
/// `@unchecked Sendable`: every access to `state` holds `lock`.
final class CoordinatorState: @unchecked Sendable {
    private struct State {
        var aggregator = StatsAggregator()
        var closedOutputs = 0
    }

    private let lock = NSLock()
    private var state = State()

    private func withLock<T>(_ body: (inout State) -> T) -> T {
        self.lock.lock()
        defer { self.lock.unlock() }
        return body(&self.state)
    }

    /// Takes in a child's report.
    func ingest(_ report: WorkerReport) { self.withLock { $0.aggregator.ingest(report) } }

    /// Notes that a child's stdout reached end of file.
    func childClosedOutput() { self.withLock { $0.closedOutputs += 1 } }

    /// A snapshot of the totals and whether all `workers` are finished (final report or EOF).
    func snapshot(elapsed: Double, workers: Int) -> (AggregateSnapshot, allDone: Bool) {
        self.withLock { state in
            let snapshot = state.aggregator.snapshot(elapsed: elapsed)
            let done = state.aggregator.allFinished(workers: workers) || state.closedOutputs >= workers
            return (snapshot, done)
        }
    }

    /// The sum of the latest on-sale stats of all children.
    func onsale() -> OnsaleStats { self.withLock { $0.aggregator.onsale } }

    /// The merged latency histogram of the final reports.
    func latency() -> Histogram<UInt64> { self.withLock { $0.aggregator.latency } }
    /// The merged steady latency (each stream's third and later updates) of the final reports.
    func steadyLatency() -> Histogram<UInt64> { self.withLock { $0.aggregator.steadyLatency } }
}
