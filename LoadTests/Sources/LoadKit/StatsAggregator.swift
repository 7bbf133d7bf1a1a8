import Histogram

/// Folds the reports of many workers into totals, rates and one merged latency histogram.
///
/// Pure: the caller passes the clock. Each worker's latest report replaces its previous one
/// (reports are cumulative), so a lost or late line costs resolution, never correctness.
public struct StatsAggregator: Sendable {
    private var latest: [Int: WorkerReport] = [:]
    private var previous: (elapsed: Double, events: UInt64, requests: UInt64)?
    /// The merged latency of all final reports.
    public private(set) var latency: Histogram<UInt64> = LatencyDigest.makeHistogram()
    /// The merged steady latency (``WorkerReport/steadyLatency``) of all final reports.
    public private(set) var steadyLatency: Histogram<UInt64> = LatencyDigest.makeHistogram()

    /// Creates an empty aggregator.
    public init() {}

    /// Takes in one report.
    public mutating func ingest(_ report: WorkerReport) {
        if report.final, self.latest[report.worker]?.final != true, let digest = report.latency {
            digest.add(to: &self.latency)
            report.steadyLatency?.add(to: &self.steadyLatency)
        }
        if self.latest[report.worker]?.final == true { return }
        self.latest[report.worker] = report
    }

    /// Whether `count` workers have all sent their final report.
    public func allFinished(workers count: Int) -> Bool {
        (0..<count).allSatisfy { self.latest[$0]?.final == true }
    }

    /// The totals now, with rates measured since the previous call of `snapshot`.
    public mutating func snapshot(elapsed: Double) -> AggregateSnapshot {
        var s = AggregateSnapshot(
            elapsed: elapsed, workersReporting: self.latest.count,
            workersFinished: self.latest.values.filter(\.final).count,
            target: 0, attempted: 0, open: 0, closed: 0, errors: 0, events: 0, eventsByType: [:],
            requests: 0, statuses: [:], eventsPerSecond: 0, requestsPerSecond: 0)
        for report in self.latest.values {
            s.target += report.target
            s.attempted += report.attempted
            s.open += report.final ? 0 : report.open
            s.closed += report.closed
            s.errors += report.errors
            s.events += report.events
            s.requests += report.requests
            s.eventsByType.merge(report.eventsByType, uniquingKeysWith: +)
            s.statuses.merge(report.statuses, uniquingKeysWith: +)
        }
        if let previous = self.previous, elapsed > previous.elapsed {
            let dt = elapsed - previous.elapsed
            s.eventsPerSecond = Double(s.events &- previous.events) / dt
            s.requestsPerSecond = Double(s.requests &- previous.requests) / dt
        }
        self.previous = (elapsed, s.events, s.requests)
        return s
    }

    /// The sum of the workers' latest on-sale stats (final reports carry the steps and series).
    public var onsale: OnsaleStats {
        var total = OnsaleStats()
        for worker in self.latest.keys.sorted() { if let s = self.latest[worker]?.onsale { total.merge(s) } }
        return total
    }

    /// The sum of the workers' last `open` values, final reports included (what was open at the end).
    public var lastReportedOpen: Int { self.latest.values.reduce(0) { $0 + $1.open } }
}
