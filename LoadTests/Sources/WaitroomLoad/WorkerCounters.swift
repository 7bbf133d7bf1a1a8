import Histogram
import LoadKit

/// The counters of one worker process.
///
/// Confined to the worker's single event loop: every handler that touches it runs on that loop,
/// and code elsewhere reaches it only through a `NIOLoopBound`.
final class WorkerCounters {
    var attempted: UInt64 = 0
    var open = 0
    var closed: UInt64 = 0
    var errors: UInt64 = 0
    var events: UInt64 = 0
    var eventsByType: [String: UInt64] = [:]
    var requests: UInt64 = 0
    var statuses: [String: UInt64] = [:]
    var latency = LatencyDigest.makeHistogram()
    /// The samples of each stream's third and later updates (see ``SSEStreamHandler``).
    var steadyLatency = LatencyDigest.makeHistogram()
    /// Steady samples are taken (until the run's steady stop file appears).
    var steadyOpen = true
    private var errorsPrinted = 0

    /// Counts an error and prints the first few to stderr (the coordinator passes stderr through).
    func error(_ message: @autoclosure () -> String, worker: Int) {
        self.errors += 1
        if self.errorsPrinted < 5 {
            self.errorsPrinted += 1
            StandardError.write("worker \(worker): \(message())\n")
        }
    }

    /// Counts one response status.
    func status(_ code: UInt) {
        self.statuses[String(code), default: 0] += 1
    }

    /// Records one latency sample in microseconds.
    func recordLatency(_ microseconds: UInt64, steady: Bool = false) {
        self.latency.record(max(microseconds, 1))
        if steady && self.steadyOpen { self.steadyLatency.record(max(microseconds, 1)) }
    }

    /// A report of the counters as they are now.
    func report(worker: Int, target: Int, elapsed: Double, final: Bool) -> WorkerReport {
        var r = WorkerReport(worker: worker, target: target)
        r.elapsed = elapsed
        r.final = final
        r.attempted = self.attempted
        r.open = self.open
        r.closed = self.closed
        r.errors = self.errors
        r.events = self.events
        r.eventsByType = self.eventsByType
        r.requests = self.requests
        r.statuses = self.statuses
        r.latency = final ? LatencyDigest(self.latency) : nil
        r.steadyLatency = final && self.steadyLatency.totalCount > 0 ? LatencyDigest(self.steadyLatency) : nil
        return r
    }
}
