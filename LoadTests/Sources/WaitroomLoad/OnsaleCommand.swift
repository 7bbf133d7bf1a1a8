import ArgumentParser
import Foundation
import LoadKit
import NIOCore
import NIOHTTP1
import NIOPosix

/// `onsale`: the on-sale load test. Users arrive on a ramp from several processes, hold their
/// streams, are admitted, reserve, confirm and pay (simulated) until the event is sold out. The
/// coordinator reads the server's stats once a second (the ground truth of admissions and stock),
/// and at the end prints the tables, runs the checks and writes the JSON and HTML reports.
struct OnsaleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "onsale",
        abstract: "Run an on-sale: users join, wait, are admitted, buy until sold out; report and check.",
        discussion: """
            The admin token comes from WAITROOM_ADMIN_TOKEN. Example:
              waitroom-load onsale --url http://127.0.0.1:8080 --event launch --classes ga,vip \\
                --users 50000 --processes 4 --admission-rate 50 --resume-after-ramp \\
                --json results/onsale.json --html results/onsale.html --check-command 'waitroomd check --event launch'
            Exits 1 when a check fails (not sold out, oversold, admission off the rate, unexpected errors).
            """)

    @OptionGroup var options: OnsaleOptions

    @Option(help: "Users in all.")
    var users: Int = 50_000

    @Option(help: "Client worker processes (each holds at most ~18k streams: fd limit 20,000).")
    var processes: Int = 4

    @Option(help: "The event's configured admission rate (places per second), for the accuracy check.")
    var admissionRate: Double

    @Option(help: "Admission accuracy tolerance in percent.")
    var tolerance: Double = 2

    @Flag(help: "Resume admission (PATCH paused=false) once every user joined and holds a stream.")
    var resumeAfterRamp = false

    @Option(help: "Shell command run after the load (e.g. `waitroomd check --event X`); it must exit 0.")
    var checkCommand: String?

    @Option(help: "Write the results as JSON here.")
    var json: String?

    @Option(help: "Write the HTML report (inline SVG charts) here.")
    var html: String?

    @OptionGroup var reporting: ReportingOptions

    func validate() throws {
        guard (1...64).contains(self.processes) else { throw ValidationError("--processes must be 1...64") }
        guard (1...1_000_000).contains(self.users) else { throw ValidationError("--users must be 1...1000000") }
        guard (self.users + self.processes - 1) / self.processes < 18_000 else {
            throw ValidationError("too many users per process for the fd limit: use more --processes")
        }
        guard (self.users + self.options.sourceAddresses - 1) / self.options.sourceAddresses < 28_000 else {
            throw ValidationError("too many users per source address: more --source-addresses")
        }
        guard self.admissionRate > 0 else { throw ValidationError("--admission-rate must be > 0") }
        guard ProcessInfo.processInfo.environment["WAITROOM_ADMIN_TOKEN"]?.isEmpty == false else {
            throw ValidationError("WAITROOM_ADMIN_TOKEN must be set (the admin API gives the ground truth)")
        }
    }

    func run() async throws {
        ResourceLimits.raiseFileLimit()
        let (options, users, processes) = (self.options, self.users, self.processes)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let admin = AdminClient(group: group, base: try URLTemplate(options.url + "/"),
                                token: ProcessInfo.processInfo.environment["WAITROOM_ADMIN_TOKEN"] ?? "")
        let statsPath = "/v1/admin/events/\(options.event)/stats"
        let startedAt = ISO8601DateFormatter().string(from: Date())
        let epoch = WallClock.unixMicroseconds()
        func sinceEpoch() -> Double { Double(WallClock.unixMicroseconds() - epoch) / 1e6 }

        let tracker = OnsaleTracker()
        let resumeAfterRamp = self.resumeAfterRamp
        var coordinator = Coordinator(
            workers: processes,
            workerArguments: { i in
                ["onsale-worker"] + options.arguments(epochMicros: epoch) + WorkerIdentity.arguments(
                    index: i, workers: processes, connections: RampSchedule.share(of: users, workers: processes, index: i))
            },
            maxDuration: options.maxDuration, statusFile: self.reporting.statusFile, quiet: self.reporting.quiet)
        coordinator.everySecond = { snapshot, totals in
            let now = sinceEpoch()
            var server = "server: -"
            if let stats = try? await admin.fetchStats(statsPath) {
                let admittedAt = stats.lastAdmissionAt.flatMap { Self.unixSeconds(rfc3339: $0) }
                    .map { $0 - Double(epoch) / 1e6 }
                tracker.add(ServerSample(time: now, clientWaiting: totals.waiting, waiting: stats.waiting, admittedTotal: stats.admittedTotal,
                                         admittedAt: admittedAt,
                                         active: stats.active, sold: stats.sold, held: stats.held, soldOut: stats.soldOut ?? false))
                if tracker.admissionStart == nil, stats.admittedTotal > 0 { tracker.admissionStart = now }
                if tracker.soldOutAt == nil, stats.soldOut == true { tracker.soldOutAt = now }
                server = "server: waiting=\(stats.waiting) admitted=\(stats.admittedTotal) sold=\(stats.sold)/\(stats.capacity) held=\(stats.held)"
            }
            if resumeAfterRamp, !tracker.resumed, snapshot.attempted >= UInt64(users), snapshot.workersReporting == processes {
                let settled = totals.streamsOpen + Int(totals.finishedUsers) >= users
                tracker.rampDoneAt = tracker.rampDoneAt ?? now
                if settled || now - tracker.rampDoneAt! > 15 {
                    if (try? await admin.send(.PATCH, "/v1/admin/events/\(options.event)/admission", json: "{\"paused\":false}"))?.status == 200 {
                        tracker.resumed = true
                        tracker.admissionStart = sinceEpoch()
                        print("admission resumed at t=\(Int(now))s with \(totals.streamsOpen) streams open")
                    }
                }
            }
            return "t=\(Int(now))s joined=\(totals.joined)/\(users) streams=\(totals.streamsOpen) waiting=\(totals.waiting) "
                + "admitted=\(totals.admitted) orders=\(totals.ordersCompleted) tickets=\(totals.ticketsBought) "
                + "errors=\(totals.errorCount) | \(server)"
        }
        let outcome = try await coordinator.run { _, _ in "" }
        let duration = sinceEpoch()

        // Let the last sagas settle (orders pending → completed/cancelled) before the final reading.
        var final = try? await admin.fetchStats(statsPath)
        for _ in 0..<60 where (final?.orders.pending ?? 0) > 0 || (final?.held ?? 0) > 0 {
            try await Task.sleep(for: .milliseconds(500))
            final = try? await admin.fetchStats(statsPath)
        }
        try? await group.shutdownGracefully()
        var checkOutput: String?
        var checkPassed = true
        if let command = self.checkCommand {
            (checkPassed, checkOutput) = Self.shell(command)
        }
        let result = OnsaleReport.result(
            startedAt: startedAt, options: options, users: users, processes: processes,
            configuredRate: self.admissionRate, tolerance: self.tolerance, duration: duration,
            tracker: tracker, totals: outcome.onsale, finalStats: final,
            check: self.checkCommand.map { _ in (checkPassed, checkOutput ?? "") })
        print()
        print(OnsaleReport.tables(result))
        if let path = self.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(result).write(to: URL(fileURLWithPath: path))
            print("json: \(path)")
        }
        if let path = self.html {
            try Data(OnsaleReport.html(result).utf8).write(to: URL(fileURLWithPath: path))
            print("html: \(path)")
        }
        print(result.passed ? "checks: all passed" : "checks: FAILED")
        if !result.passed { throw ExitCode(1) }
    }

    /// Runs `command` with /bin/sh; whether it exited 0, and its output.
    /// Unix seconds of an RFC 3339 time with or without a fraction (`2026-11-27T10:00:00.123Z`).
    static func unixSeconds(rfc3339 text: String) -> Double? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date.timeIntervalSince1970 }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)?.timeIntervalSince1970
    }

    static func shell(_ command: String) -> (Bool, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return (false, "could not run: \(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus == 0, String(decoding: data, as: UTF8.self))
    }
}

extension AdminClient {
    /// The event's stats, decoded.
    func fetchStats(_ path: String) async throws -> EventStats {
        let response = try await self.send(.GET, path)
        guard response.status == 200 else { throw Failure(description: "GET \(path): \(response.status)") }
        return try JSONDecoder().decode(EventStats.self, from: Data(response.body))
    }
}
