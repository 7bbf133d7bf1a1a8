import ArgumentParser
import LoadKit

/// `sse`: many SSE subscribers from several processes; prints progress and a final table.
struct SSECommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sse",
        abstract: "Open many SSE streams from several processes and count what arrives.",
        discussion: """
            Examples:
              waitroom-load sse --url 'http://127.0.0.1:8090/sub/{channel}' --connections 20000
              waitroom-load sse --join-url 'http://127.0.0.1:8080/v1/events/{event}/queue' --event demo \\
                --url 'http://127.0.0.1:8080/v1/events/{event}/queue/{ticket}/stream' --connections 100000
            Frames whose data has "ts" (unix µs) give latency samples (now - ts).
            """)

    @OptionGroup var options: SSEOptions

    @Option(help: "Connections in all.")
    var connections: Int = 20_000

    @Option(help: "Worker processes (each must stay below ~19k connections: fd limit 20,000).")
    var processes: Int = 8

    @OptionGroup var reporting: ReportingOptions

    func validate() throws {
        guard self.processes >= 1, self.processes <= 64 else { throw ValidationError("--processes must be 1...64") }
        guard self.connections >= 1, self.connections <= 1_000_000 else { throw ValidationError("--connections must be 1...1000000") }
        let perProcess = (self.connections + self.processes - 1) / self.processes
        guard perProcess + self.options.joinConcurrency + 64 < 19_000 else {
            throw ValidationError("\(perProcess) connections per process is too many (fd limit): use more --processes")
        }
        let perAddress = (self.connections + self.options.sourceAddresses - 1) / self.options.sourceAddresses
        guard perAddress < 28_000 else {
            throw ValidationError("\(perAddress) connections per source address exceeds the ~28k ephemeral ports: more --source-addresses")
        }
    }

    func run() async throws {
        ResourceLimits.raiseFileLimit()
        let (options, connections, processes) = (self.options, self.connections, self.processes)
        let coordinator = Coordinator(
            workers: processes,
            workerArguments: { i in
                ["sse-worker"] + options.arguments + WorkerIdentity.arguments(
                    index: i, workers: processes,
                    connections: RampSchedule.share(of: connections, workers: processes, index: i))
            },
            maxDuration: options.maxDuration, statusFile: self.reporting.statusFile, quiet: self.reporting.quiet)
        let outcome = try await coordinator.run { s, peak in
            "t=\(Int(s.elapsed))s open=\(s.open)/\(s.target) peak=\(peak) attempted=\(s.attempted) closed=\(s.closed) "
                + "errors=\(s.errors) events=\(s.events) events/s=\(ResultTable.rate(s.eventsPerSecond)) "
                + "workers=\(s.workersReporting - s.workersFinished)"
        }
        let s = outcome.last
        var table = ResultTable(columns: [
            "processes", "connections open (peak)", "target", "events", "events/s", "errors", "closed",
            "p50 ms", "p99 ms", "max ms",
        ])
        let h = outcome.latency
        let has = h.totalCount > 0
        table.append([
            String(processes), String(outcome.peakOpen), String(s.target), String(s.events),
            ResultTable.rate(outcome.steadyEventsPerSecond), String(s.errors), String(s.closed),
            ResultTable.milliseconds(has ? h.valueAtPercentile(50) : nil),
            ResultTable.milliseconds(has ? h.valueAtPercentile(99) : nil),
            ResultTable.milliseconds(has ? h.max : nil),
        ])
        print()
        print("SSE \(options.url) x\(connections), \(processes) processes, \(options.sourceAddresses) source addresses, hold \(options.hold)s")
        print(table.render())
        let types = s.eventsByType.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        print("events by type: \(types.isEmpty ? "none" : types); latency samples: \(h.totalCount); statuses: \(s.statuses.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
    }
}
