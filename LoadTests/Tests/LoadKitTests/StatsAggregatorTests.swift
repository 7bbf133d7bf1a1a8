import Testing
import Histogram
@testable import LoadKit

@Suite struct StatsAggregatorTests {
    private func report(_ worker: Int, events: UInt64, open: Int, final: Bool = false, latency: [UInt64] = []) -> WorkerReport {
        var r = WorkerReport(worker: worker, target: 100)
        r.events = events
        r.open = open
        r.attempted = 100
        r.final = final
        r.eventsByType = ["position": events]
        if final {
            var h = LatencyDigest.makeHistogram()
            for v in latency { h.record(v) }
            r.latency = LatencyDigest(h)
        }
        return r
    }

    @Test func sumsLatestReportsAndComputesRates() {
        var agg = StatsAggregator()
        agg.ingest(report(0, events: 10, open: 50))
        agg.ingest(report(1, events: 20, open: 60))
        let first = agg.snapshot(elapsed: 1)
        #expect(first.events == 30)
        #expect(first.open == 110)
        #expect(first.target == 200)
        #expect(first.eventsByType == ["position": 30])
        #expect(first.eventsPerSecond == 0)
        agg.ingest(report(0, events: 110, open: 100))
        agg.ingest(report(1, events: 120, open: 100))
        let second = agg.snapshot(elapsed: 3)
        #expect(second.events == 230)
        #expect(second.eventsPerSecond == 100)
        #expect(second.open == 200)
    }

    @Test func finalReportsMergeLatencyOnceAndStopCounting() {
        var agg = StatsAggregator()
        agg.ingest(report(0, events: 5, open: 5, final: true, latency: [100, 200, 300]))
        agg.ingest(report(0, events: 5, open: 5, final: true, latency: [100, 200, 300]))
        agg.ingest(report(0, events: 99, open: 5))
        agg.ingest(report(1, events: 5, open: 5, final: true, latency: [1000]))
        #expect(agg.latency.totalCount == 4)
        #expect(agg.latency.max >= 1000)
        #expect(agg.allFinished(workers: 2))
        #expect(!agg.allFinished(workers: 3))
        let s = agg.snapshot(elapsed: 1)
        #expect(s.events == 10)
        #expect(s.open == 0)
        #expect(s.workersFinished == 2)
    }

    @Test func digestRoundTripsThroughJSON() throws {
        var h = LatencyDigest.makeHistogram()
        for v in [1, 10, 10, 1234, 999_999] as [UInt64] { h.record(v) }
        let digest = LatencyDigest(h)
        #expect(digest.totalCount == 5)
        var back = LatencyDigest.makeHistogram()
        digest.add(to: &back)
        #expect(back.totalCount == 5)
        #expect(back.valueAtPercentile(50) == h.valueAtPercentile(50))
        #expect(back.max == h.max)
    }
}
