import ArgumentParser
import LoadKit

/// `joins`: keep-alive `POST /v1/events/{e}/queue` from C connections across P processes for D seconds.
struct JoinsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "joins", abstract: "Post queue joins over keep-alive connections; prints joins/s and latency.")

    @OptionGroup var options: JoinsOptions

    @Option(help: "Connections in all.")
    var connections: Int = 64

    @Option(help: "Worker processes.")
    var processes: Int = 2

    @OptionGroup var reporting: ReportingOptions

    func validate() throws {
        guard (1...64).contains(self.processes) else { throw ValidationError("--processes must be 1...64") }
        guard (1...10_000).contains(self.connections), self.connections >= self.processes else {
            throw ValidationError("--connections must be in processes...10000")
        }
    }

    func run() async throws {
        ResourceLimits.raiseFileLimit()
        let (options, connections, processes) = (self.options, self.connections, self.processes)
        let coordinator = Coordinator(
            workers: processes,
            workerArguments: { i in
                ["joins-worker"] + options.arguments + WorkerIdentity.arguments(
                    index: i, workers: processes,
                    connections: RampSchedule.share(of: connections, workers: processes, index: i))
            },
            maxDuration: options.duration + 30, statusFile: self.reporting.statusFile, quiet: self.reporting.quiet)
        let outcome = try await coordinator.run { s, _ in
            "t=\(Int(s.elapsed))s requests=\(s.requests) joins/s=\(ResultTable.rate(s.requestsPerSecond)) errors=\(s.errors)"
        }
        let s = outcome.last
        let h = outcome.latency
        let has = h.totalCount > 0
        let statuses = s.statuses.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        var table = ResultTable(columns: ["processes", "connections", "seconds", "requests", "joins/s", "p50 ms", "p99 ms", "max ms", "errors", "statuses"])
        table.append([
            String(processes), String(connections), ResultTable.rate(options.duration), String(s.requests),
            ResultTable.rate(Double(s.requests) / options.duration),
            ResultTable.milliseconds(has ? h.valueAtPercentile(50) : nil),
            ResultTable.milliseconds(has ? h.valueAtPercentile(99) : nil),
            ResultTable.milliseconds(has ? h.max : nil), String(s.errors), statuses.isEmpty ? "none" : statuses,
        ])
        print()
        print("POST \(options.url) (event \(options.event)), keep-alive")
        print(table.render())
    }
}
