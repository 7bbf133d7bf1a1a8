import Foundation
import Histogram
import LoadKit

/// Turns what an on-sale run saw into its result (with the checks), its tables and its HTML page.
enum OnsaleReport {
    static func result(startedAt: String, options: OnsaleOptions, users: Int, processes: Int, configuredRate: Double,
                       tolerance: Double, duration: Double, tracker: OnsaleTracker, totals: OnsaleStats,
                       finalStats: EventStats?, check: (passed: Bool, output: String)?) -> OnsaleResult {
        let samples = tracker.samples
        // Each admittedTotal at the server's time of it: the stats polls of a saturated server
        // come back seconds late, and stamped with the poll's time they read as bursts and stalls.
        let server = RateAccuracy.measure(
            RateAccuracy.stamped(samples.map { ($0.time, $0.admittedAt, Double($0.admittedTotal)) }), configured: configuredRate)
        let client = RateAccuracy.measure(
            RateAccuracy.cumulative(perSecond: totals.series.map { ($0.second, Double($0.admitted)) }), configured: configuredRate)
        let steps = OnsaleStep.allCases.compactMap { step -> OnsaleResult.Step? in
            guard let digest = totals.steps[step.rawValue], digest.totalCount > 0 else { return nil }
            let h = digest.histogram()
            return OnsaleResult.Step(step: step.rawValue, label: step.label, count: h.totalCount,
                                     p50Ms: Double(h.valueAtPercentile(50)) / 1000, p99Ms: Double(h.valueAtPercentile(99)) / 1000,
                                     maxMs: Double(h.max) / 1000)
        }
        var checks: [OversellCheck.Result] = []
        if let finalStats {
            checks += OversellCheck.evaluate(classes: finalStats.ticketClasses, clientTickets: totals.ticketsByClass)
            checks.append(.init(name: "the server marked the event sold out", passed: finalStats.soldOut == true,
                                detail: "soldOut \(finalStats.soldOut.map(String.init) ?? "-")"))
            checks.append(.init(name: "orders: none pending, completed = what the clients saw",
                                passed: finalStats.orders.pending == 0 && UInt64(finalStats.orders.completed) == totals.ordersCompleted,
                                detail: "server \(finalStats.orders.completed) completed, \(finalStats.orders.pending) pending; "
                                    + "clients \(totals.ordersCompleted) completed"))
        } else {
            checks.append(.init(name: "final stats", passed: false, detail: "the admin stats could not be read"))
        }
        checks.append(.init(name: "admission within ±\(ResultTable.rate(tolerance))% of \(ResultTable.rate(configuredRate))/s (server admittedTotal)",
                            passed: server?.isWithin(percent: tolerance) ?? false,
                            detail: server.map { "\(ResultTable.rate($0.measured))/s over \(ResultTable.rate($0.windowSeconds)) s "
                                + "(\(Int($0.count)) admissions), \(percent($0.errorPercent))" } ?? "no steady window"))
        checks.append(.init(name: "no unexpected errors", passed: totals.errorCount == 0,
                            detail: totals.errors.isEmpty ? "none"
                                : totals.errors.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")))
        if let check {
            let lastLine = check.output.split(separator: "\n").last.map(String.init) ?? ""
            checks.append(.init(name: "waitroomd check --event", passed: check.passed, detail: lastLine))
        }
        return OnsaleResult(
            startedAt: startedAt, event: options.event, users: users, tickets: finalStats?.capacity ?? 0,
            clientProcesses: processes, configuredRate: configuredRate, durationSeconds: duration,
            admissionStartSeconds: tracker.admissionStart, soldOutSeconds: tracker.soldOutAt,
            serverAccuracy: server, clientAccuracy: client, tolerancePercent: tolerance, steps: steps, totals: totals,
            finalStats: finalStats, checks: checks, checkOutput: check?.output, serverSamples: samples)
    }

    static func percent(_ v: Double) -> String {
        let hundredths = Int((v * 100).rounded())
        let sign = hundredths < 0 ? "-" : "+"
        let a = abs(hundredths)
        return "\(sign)\(a / 100).\(a % 100 < 10 ? "0" : "")\(a % 100)%"
    }

    private static func seconds(_ v: Double?) -> String { v.map { ResultTable.rate($0) + " s" } ?? "-" }

    /// The summary rows (measure, value).
    static func summaryRows(_ r: OnsaleResult) -> [[String]] {
        let t = r.totals
        func accuracy(_ a: RateAccuracy?) -> String {
            a.map { "\(ResultTable.rate($0.measured))/s (\(percent($0.errorPercent)), \(ResultTable.rate($0.windowSeconds)) s window)" } ?? "-"
        }
        return [
            ["users / tickets", "\(r.users) / \(r.tickets) (\(r.clientProcesses) client processes)"],
            ["time to sell out from start", seconds(r.soldOutSeconds)],
            ["time to sell out from first admission", seconds(r.soldOutAfterAdmission)],
            ["admission rate configured", "\(ResultTable.rate(r.configuredRate))/s"],
            ["admission rate, server admittedTotal", accuracy(r.serverAccuracy)],
            ["admission rate, client admitted events", accuracy(r.clientAccuracy)],
            ["joined / admitted", "\(t.joined) / \(t.admitted)"],
            ["reservations / orders completed / declined", "\(t.reservations) / \(t.ordersCompleted) / \(t.ordersCancelled)"],
            ["tickets bought (clients) / sold (server)", "\(t.ticketsBought) / \(r.finalStats.map { String($0.sold) } ?? "-")"],
            ["unexpected errors", String(t.errorCount)],
            ["run time", seconds(r.durationSeconds)],
        ]
    }

    static func stepRows(_ r: OnsaleResult) -> [[String]] {
        r.steps.map { s in
            [s.label, String(s.count), String(format: "%.2f", s.p50Ms), String(format: "%.2f", s.p99Ms), String(format: "%.2f", s.maxMs)]
        }
    }

    static func outcomeRows(_ r: OnsaleResult) -> [[String]] {
        // A user that gave up after failures ends as `end: failed`: the failures are in the errors.
        r.totals.outcomes.sorted { $0.key < $1.key }.map { [$0.key, String($0.value), $0.key == "end: failed" ? "after errors" : "expected"] }
            + r.totals.errors.sorted { $0.key < $1.key }.map { [$0.key, String($0.value), "ERROR"] }
    }

    /// The tables printed on stdout.
    static func tables(_ r: OnsaleResult) -> String {
        var summary = ResultTable(columns: ["on-sale", "value"])
        summaryRows(r).forEach { summary.append($0) }
        var steps = ResultTable(columns: ["step", "count", "p50 ms", "p99 ms", "max ms"])
        stepRows(r).forEach { steps.append($0) }
        var outcomes = ResultTable(columns: ["responses and end states", "count", "kind"])
        outcomeRows(r).forEach { outcomes.append($0) }
        var checks = ResultTable(columns: ["check", "result", "detail"])
        r.checks.forEach { checks.append([$0.name, $0.passed ? "pass" : "FAIL", $0.detail]) }
        return [summary.render(), steps.render(), outcomes.render(), checks.render()].joined(separator: "\n\n")
    }

    /// The HTML page with the tables and three charts.
    static func html(_ r: OnsaleResult) -> String {
        var page = HTMLReport(title: "On-sale: \(r.users) users, \(r.tickets) tickets")
        page.paragraph("Event \(r.event), started \(r.startedAt), admission \(ResultTable.rate(r.configuredRate))/s, "
                       + "\(r.clientProcesses) client processes. Times are seconds since the start of the run.")
        page.heading("Summary")
        page.table(columns: ["measure", "value"], rows: summaryRows(r))
        page.heading("Checks")
        page.checks(r.checks)
        page.heading("Charts")
        let series = r.totals.series
        page.chart(SVGChart(
            title: "Queue length", xLabel: "seconds", yLabel: "users waiting",
            series: [
                .init(name: "server: waiting", color: "#1f77b4", points: r.serverSamples.map { ($0.time, Double($0.waiting)) }),
                .init(name: "clients: waiting on a stream", color: "#ff7f0e",
                      points: r.serverSamples.map { ($0.time, Double($0.clientWaiting)) }),
            ]))
        let admitted = RateAccuracy.perInterval(RateAccuracy.stamped(r.serverSamples.map { ($0.time, $0.admittedAt, Double($0.admittedTotal)) }))
        page.chart(SVGChart(
            title: "Admissions per second", xLabel: "seconds", yLabel: "admissions / s",
            series: [
                .init(name: "server (Δ admittedTotal)", color: "#1f77b4", points: admitted),
                .init(name: "clients (admitted events)", color: "#2ca02c",
                      points: series.map { (Double($0.second) + 1, Double($0.admitted)) }),
            ],
            references: [.init(name: "configured \(ResultTable.rate(r.configuredRate))/s", color: "#d62728", y: r.configuredRate)]))
        func percentileSeries(_ step: OnsaleStep, _ p: Double, _ color: String) -> SVGChart.Series {
            .init(name: "\(step.label) p\(Int(p))", color: color, points: series.compactMap { s in
                guard let d = s.latency[step.rawValue], d.totalCount > 0 else { return nil }
                return (Double(s.second) + 1, Double(d.histogram().valueAtPercentile(p)) / 1000)
            })
        }
        page.chart(SVGChart(
            title: "Latency per second of the run", xLabel: "seconds", yLabel: "ms",
            series: [
                percentileSeries(.join, 50, "#9ecae1"), percentileSeries(.join, 99, "#1f77b4"),
                percentileSeries(.reserve, 50, "#fdae6b"), percentileSeries(.reserve, 99, "#e6550d"),
                percentileSeries(.confirmToCompleted, 99, "#31a354"),
            ].filter { !$0.points.isEmpty }))
        page.heading("Latency of every step")
        page.table(columns: ["step", "count", "p50 ms", "p99 ms", "max ms"], rows: stepRows(r))
        page.heading("Responses and end states")
        page.table(columns: ["kind", "count", ""], rows: outcomeRows(r))
        if let output = r.checkOutput {
            page.heading("waitroomd check")
            page.preformatted(output)
        }
        return page.render()
    }
}
