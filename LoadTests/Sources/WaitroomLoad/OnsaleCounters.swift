import Histogram
import LoadKit

/// The counters of one `onsale-worker`: totals, latency per step and per-second series.
///
/// Confined to the worker's single event loop (users and handlers all run on it).
final class OnsaleCounters {
    /// Totals in the shape they are reported (the series and steps are filled at report time).
    var totals = OnsaleStats()
    private var steps: [OnsaleStep: Histogram<UInt64>] = [:]
    private var seconds: [Int: Second] = [:]
    private let epochMicros: UInt64
    private var errorsPrinted = 0
    private let worker: Int

    /// One second's counts and raw latency samples (µs); few enough to keep them all.
    private struct Second {
        var sample: SecondSample
        var latency: [OnsaleStep: [UInt64]] = [:]
    }

    init(worker: Int, epochMicros: UInt64) {
        self.worker = worker
        self.epochMicros = epochMicros
    }

    private var currentSecond: Int {
        let now = WallClock.unixMicroseconds()
        return now > self.epochMicros ? Int((now - self.epochMicros) / 1_000_000) : 0
    }

    private func withSecond(_ body: (inout Second) -> Void) {
        let s = self.currentSecond
        body(&self.seconds[s, default: Second(sample: SecondSample(second: s))])
    }

    /// Records how long `step` took.
    func record(_ step: OnsaleStep, seconds: Double) {
        let micros = UInt64(max(1, (seconds * 1e6).rounded()))
        self.steps[step, default: LatencyDigest.makeHistogram()].record(micros)
        self.withSecond { $0.latency[step, default: []].append(micros) }
    }

    func joined() {
        self.totals.joined += 1
        self.withSecond { $0.sample.joined += 1 }
    }

    func admitted() {
        self.totals.admitted += 1
        self.withSecond { $0.sample.admitted += 1 }
    }

    func reserved() {
        self.totals.reservations += 1
        self.withSecond { $0.sample.reserved += 1 }
    }

    func completed(ticketsByClass: [String: UInt64]) {
        self.totals.ordersCompleted += 1
        self.totals.ticketsByClass.merge(ticketsByClass, uniquingKeysWith: +)
        self.withSecond { $0.sample.completed += 1 }
    }

    /// An expected refusal or end state, e.g. `410 sold_out`.
    func outcome(_ kind: String) { self.totals.outcomes[kind, default: 0] += 1 }

    /// An unexpected failure, by kind (`503 dependency_unavailable`, `connect`, …); the first few
    /// go to stderr with `detail`.
    func error(_ kind: String, detail: @autoclosure () -> String) {
        self.totals.errors[kind, default: 0] += 1
        self.withSecond { $0.sample.errors += 1 }
        if self.errorsPrinted < 5 {
            self.errorsPrinted += 1
            StandardError.write("onsale worker \(self.worker): \(kind): \(detail())\n")
        }
    }

    /// The report of now; `final` adds the steps and the series.
    func report(target: Int, attempted: Int, elapsed: Double, final: Bool) -> WorkerReport {
        var r = WorkerReport(worker: self.worker, target: target)
        r.elapsed = elapsed
        r.final = final
        r.attempted = UInt64(attempted)
        r.open = self.totals.streamsOpen
        r.errors = self.totals.errorCount
        r.events = self.totals.admitted
        var stats = self.totals
        if final {
            stats.steps = Dictionary(uniqueKeysWithValues: self.steps.map { ($0.key.rawValue, LatencyDigest($0.value)) })
            stats.series = self.seconds.keys.sorted().map { key in
                var second = self.seconds[key]!
                for (step, samples) in second.latency {
                    var h = LatencyDigest.makeHistogram()
                    for v in samples { h.record(v) }
                    second.sample.latency[step.rawValue] = LatencyDigest(h)
                }
                return second.sample
            }
        }
        r.onsale = stats
        return r
    }
}
