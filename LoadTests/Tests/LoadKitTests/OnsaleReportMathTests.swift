import Testing
import Histogram
@testable import LoadKit

@Suite struct RateAccuracyTests {
    /// A counter admitting `rate` a second from `start` to `end`, read every `step` seconds.
    private func samples(rate: Double, start: Double, end: Double, until: Double, step: Double = 1) -> [RateAccuracy.Sample] {
        stride(from: 0, through: until, by: step).map { t in
            RateAccuracy.Sample(time: t, total: (min(max(t, start), end) - start) * rate)
        }
    }

    @Test func exactRateOverTheSteadyWindow() throws {
        let a = try #require(RateAccuracy.measure(samples(rate: 50, start: 10, end: 60, until: 80), configured: 50))
        #expect(abs(a.measured - 50) < 1e-9)
        #expect(abs(a.errorPercent) < 1e-9)
        // The window leaves out `trim` seconds at both ends of the counter's movement.
        #expect(a.windowStart == 12)
        #expect(a.windowEnd == 58)
        #expect(a.count == 46 * 50)
        #expect(a.isWithin(percent: 2))
    }

    @Test func slowRateFailsTheTolerance() throws {
        let a = try #require(RateAccuracy.measure(samples(rate: 48, start: 0, end: 40, until: 50), configured: 50))
        #expect(abs(a.errorPercent - -4) < 1e-9)
        #expect(!a.isWithin(percent: 2))
        #expect(a.isWithin(percent: 4.5))
    }

    @Test func edgesDoNotCount() throws {
        // A burst at the start and a stall at the end, outside the trimmed window.
        var s = samples(rate: 100, start: 5, end: 35, until: 40)
        for i in s.indices where s[i].time >= 6 { s[i].total += 400 }
        let a = try #require(RateAccuracy.measure(s, configured: 100))
        #expect(abs(a.measured - 100) < 1e-9)
    }

    /// Polls answered late (as from a saturated server) read as bursts when stamped with the
    /// poll's time; stamped with the server's time of each value they give the true rate.
    @Test func serverStampedReadingsRemoveThePollLatency() throws {
        // 50/s from t = 10 to t = 60; the counter moves in ticks of 5 (every 0.1 s).
        func value(at t: Double) -> (time: Double, total: Double) {
            let ticks = (min(max(t, 10), 60) - 10) / 0.1
            let done = ticks.rounded(.down)
            return (10 + done * 0.1, done * 5)
        }
        var readings: [(pollTime: Double, valueTime: Double?, total: Double)] = []
        for i in 0...80 {
            let poll = Double(i)
            // Every poll is answered 0 to 4 s late, differently each time; before the first
            // admission the server has no time to give.
            let answered = poll + Double((i * 7) % 5)
            let v = value(at: answered)
            readings.append((poll, v.total > 0 ? v.time : nil, v.total))
        }
        let naive = try #require(RateAccuracy.measure(readings.map { RateAccuracy.Sample(time: $0.pollTime, total: $0.total) },
                                                      configured: 50))
        #expect(!naive.isWithin(percent: 2), "poll-stamped: \(naive.errorPercent) %")
        let stamped = RateAccuracy.stamped(readings)
        #expect(zip(stamped, stamped.dropFirst()).allSatisfy { $0.time < $1.time && $0.total <= $1.total })
        let exact = try #require(RateAccuracy.measure(stamped, configured: 50))
        #expect(abs(exact.errorPercent) < 0.5, "server-stamped: \(exact.errorPercent) %")
    }

    @Test func noMovementOrShortWindowGivesNothing() {
        #expect(RateAccuracy.measure(samples(rate: 0, start: 0, end: 10, until: 10), configured: 50) == nil)
        #expect(RateAccuracy.measure(samples(rate: 50, start: 2, end: 8, until: 10), configured: 50) == nil)
        #expect(RateAccuracy.measure([], configured: 50) == nil)
    }

    @Test func cumulativeFromPerSecondCounts() {
        let s = RateAccuracy.cumulative(perSecond: [(second: 3, count: 5), (second: 5, count: 2), (second: 3, count: 1)])
        #expect(s.map(\.time) == [3, 4, 5, 6])
        #expect(s.map(\.total) == [0, 6, 6, 8])
        let rates = RateAccuracy.perInterval(s)
        #expect(rates.map(\.y) == [6, 0, 2])
        #expect(rates.map(\.x) == [4, 5, 6])
    }
}

@Suite struct OnsaleStatsTests {
    private func digest(_ values: [UInt64]) -> LatencyDigest {
        var h = LatencyDigest.makeHistogram()
        for v in values { h.record(v) }
        return LatencyDigest(h)
    }

    @Test func mergeAddsCountersDigestsAndSeconds() {
        var a = OnsaleStats()
        a.joined = 3
        a.ticketsByClass = ["ga": 4]
        a.errors = ["503 dependency_unavailable": 1]
        a.steps = ["join": digest([100, 200])]
        var s1 = SecondSample(second: 1)
        s1.admitted = 2
        s1.latency = ["join": digest([100])]
        a.series = [s1]
        var b = OnsaleStats()
        b.joined = 2
        b.ticketsByClass = ["ga": 1, "vip": 2]
        b.steps = ["join": digest([200, 300]), "reserve": digest([5])]
        var s1b = SecondSample(second: 1)
        s1b.admitted = 3
        s1b.latency = ["join": digest([300])]
        var s2 = SecondSample(second: 2)
        s2.admitted = 7
        b.series = [s2, s1b]
        a.merge(b)
        #expect(a.joined == 5)
        #expect(a.ticketsByClass == ["ga": 5, "vip": 2])
        #expect(a.ticketsBought == 7)
        #expect(a.errorCount == 1)
        #expect(a.steps["join"]?.totalCount == 4)
        #expect(a.steps["reserve"]?.totalCount == 1)
        #expect(a.series.map(\.second) == [1, 2])
        #expect(a.series.map(\.admitted) == [5, 7])
        #expect(a.series[0].latency["join"]?.totalCount == 2)
    }

    @Test func digestMergeKeepsEqualBucketsTogether() {
        let m = LatencyDigest.merged(digest([10, 10, 20]), digest([10, 30]))
        #expect(m.buckets == [[10, 3], [20, 1], [30, 1]])
    }

    @Test func stringCountsFindEveryTicketClass() {
        let body = Array(#"{"orderId":"o1","status":"completed","tickets":[{"code":"T1","ticketClassId":"ga"},{"code":"T2","ticketClassId":"vip"},{"code":"T3","ticketClassId":"ga"}]}"#.utf8)
        #expect(JSONScan.stringCounts("ticketClassId", in: body) == ["ga": 2, "vip": 1])
        #expect(JSONScan.stringCounts("missing", in: body).isEmpty)
    }
}

@Suite struct OversellCheckTests {
    private typealias C = OversellCheck.ClassStock

    @Test func soldOutExactlyPasses() {
        let results = OversellCheck.evaluate(
            classes: [C(id: "ga", capacity: 100, held: 0, sold: 100), C(id: "vip", capacity: 10, held: 0, sold: 10)],
            clientTickets: ["ga": 100, "vip": 10])
        #expect(results.count == 4)
        #expect(results.allSatisfy { $0.passed })
    }

    @Test func oversoldClassFails() {
        let results = OversellCheck.evaluate(
            classes: [C(id: "ga", capacity: 100, held: 0, sold: 101)], clientTickets: ["ga": 101])
        #expect(results.first { $0.name.hasPrefix("ga:") }?.passed == false)
        #expect(results.first { $0.name == "sold out" }?.passed == false)
        let held = OversellCheck.evaluate(classes: [C(id: "ga", capacity: 100, held: 3, sold: 98)], clientTickets: ["ga": 98])
        #expect(held.first { $0.name.hasPrefix("ga:") }?.passed == false)
    }

    @Test func notSoldOutOrClientMismatchFails() {
        let partial = OversellCheck.evaluate(classes: [C(id: "ga", capacity: 100, held: 0, sold: 99)], clientTickets: ["ga": 99])
        #expect(partial.first { $0.name == "sold out" }?.passed == false)
        #expect(partial.first { $0.name.hasPrefix("tickets") }?.passed == true)
        let mismatch = OversellCheck.evaluate(classes: [C(id: "ga", capacity: 100, held: 0, sold: 100)], clientTickets: ["ga": 98])
        #expect(mismatch.first { $0.name.hasPrefix("tickets") }?.passed == false)
        let unknown = OversellCheck.evaluate(classes: [C(id: "ga", capacity: 1, held: 0, sold: 1)], clientTickets: ["ga": 1, "x": 1])
        #expect(unknown.first { $0.name.hasPrefix("tickets") }?.passed == false)
    }
}

@Suite struct SVGChartTests {
    @Test func ticksAreRound() {
        #expect(SVGChart.ticks(upTo: 47) == [0, 10, 20, 30, 40, 50])
        #expect(SVGChart.ticks(upTo: 230) == [0, 50, 100, 150, 200, 250])
        let small = SVGChart.ticks(upTo: 0.9)
        #expect(small.count == 6 && abs(small[1] - 0.2) < 1e-12 && abs(small.last! - 1) < 1e-12)
        #expect(SVGChart.ticks(upTo: 0) == [0, 1])
    }

    @Test func rendersSeriesAxesReferenceAndEscapes() {
        let chart = SVGChart(
            title: "Admissions <per> second", xLabel: "seconds", yLabel: "per s",
            series: [.init(name: "server", color: "#1f77b4", points: [(0, 0), (10, 50), (20, 100)])],
            references: [.init(name: "configured & set", color: "#d62728", y: 50)])
        let svg = chart.render()
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.hasSuffix("</svg>"))
        #expect(svg.contains("Admissions &lt;per&gt; second"))
        #expect(svg.contains("configured &amp; set"))
        // Plot area: x 64…744, y 34…222 for 760 × 280; y ticks 0…100, x ticks 0…20.
        #expect(svg.contains("points=\"64,222 404,128 744,34\""))
        // The reference at 50 sits half-way up, dashed.
        #expect(svg.contains("y1=\"128\" y2=\"128\" stroke=\"#d62728\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\""))
        #expect(!svg.contains("<script"))
    }

    @Test func htmlReportIsSelfContained() {
        var page = HTMLReport(title: "On-sale <test>")
        page.table(columns: ["a", "b"], rows: [["x", "1"]])
        page.checks([.init(name: "sold out", passed: false, detail: "9 of 10")])
        page.chart(SVGChart(title: "t", xLabel: "x", yLabel: "y", series: [.init(name: "s", color: "#000", points: [(0, 1)])]))
        let html = page.render()
        #expect(html.contains("<title>On-sale &lt;test&gt;</title>"))
        #expect(html.contains("<td class=\"n\">1</td>"))
        #expect(html.contains("<li class=\"fail\">FAIL — sold out: 9 of 10</li>"))
        #expect(html.contains("<svg"))
        #expect(!html.contains("<script") && !html.contains("src="))
    }
}
