import ArgumentParser
import Foundation
import Histogram
import LoadKit
import NIOCore
import NIOPosix

/// `reserve`: checkout clients. Each keep-alive connection reserves with its own admission token
/// and (by default) releases what it got, so stock stays and the run measures the hot class's
/// lock, not its size. Prints reservations/s and the latency of each step, and the lock wait the
/// server reports in `Server-Timing`.
struct ReserveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reserve", abstract: "Reserve (and release) tickets with admission tokens; prints reservations/s and latency.")

    @Option(help: "Server base URL (loopback), e.g. http://127.0.0.1:8080.") var url: String
    @Option(help: "Event id.") var event: String
    @Option(help: "File with one admission token per line (one per connection, reused round-robin).") var tokens: String
    @Option(help: "Connections.") var connections: Int = 64
    @Option(help: "Seconds to run.") var duration: Double = 10
    @Option(help: "Ticket class to reserve.") var ticketClass: String = "ga"
    @Option(help: "Tickets per reservation.") var quantity: Int = 1
    @Flag(help: "Keep the holds (no release); with --acked-file, for crash tests.") var keep = false
    @Option(help: "Append the id of every acknowledged (201) reservation to this file.") var ackedFile: String?
    @Option(help: "Write the results as JSON to this file.") var summaryFile: String?

    func validate() throws {
        guard (1...4_096).contains(connections) else { throw ValidationError("--connections must be 1...4096") }
        guard duration > 0, duration <= 600 else { throw ValidationError("--duration must be in (0, 600]") }
        let u = try URLTemplate(url + "/")
        guard u.host.hasPrefix("127.") else { throw ValidationError("loopback targets only (127.0.0.0/8)") }
    }

    func run() async throws {
        ResourceLimits.raiseFileLimit()
        let target = try URLTemplate(url + "/")
        let tokenList = try String(contentsOfFile: tokens, encoding: .utf8).split(whereSeparator: \.isNewline).map(String.init)
        guard !tokenList.isEmpty else { throw ValidationError("no tokens in \(tokens)") }
        let acked = try ackedFile.map { path -> FileHandle in
            if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            h.seekToEndOfFile()
            return h
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let bound = try await loop.submit { NIOLoopBound(ReserveStats(), eventLoop: loop) }.get()
        let started = Date()
        let deadline = NIODeadline.now() + .milliseconds(Int64(duration * 1000))
        let plan = ReserveConnection.Plan(
            host: target.hostHeader, reservePath: "/v1/events/\(event)/reservations",
            body: "{\"items\":[{\"ticketClassId\":\"\(ticketClass)\",\"quantity\":\(quantity)}]}",
            release: !keep, deadline: deadline)
        let connector = try Connector(loop: loop, host: target.host, port: target.port, sourceAddresses: ["127.0.0.1"])
        let done = loop.makePromise(of: Void.self)
        try await loop.submit {
            var open = connections
            for i in 0..<connections {
                ReserveConnection.start(connector: connector, plan: plan, token: tokenList[i % tokenList.count], index: i,
                                        stats: bound.value, acked: acked) {
                    open -= 1
                    if open == 0 { done.succeed(()) }
                }
            }
        }.get()
        let ticker = loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            let s = bound.value
            StandardError.write("t=\(Int(Date().timeIntervalSince(started)))s reservations=\(s.reserved) refused=\(s.refused) errors=\(s.errors)\n")
        }
        try await done.futureResult.get()
        ticker.cancel()
        let elapsed = Date().timeIntervalSince(started)
        let s = try await loop.submit { bound.value.snapshot() }.get()
        try? acked?.close()
        try await group.shutdownGracefully()

        func ms(_ h: Histogram<UInt64>, _ p: Double) -> String {
            h.totalCount > 0 ? ResultTable.milliseconds(h.valueAtPercentile(p)) : "-"
        }
        var table = ResultTable(columns: ["connections", "seconds", "reservations", "reservations/s", "reserve p50 ms", "reserve p99 ms",
                                          "release p50 ms", "lock wait p50 ms", "lock wait p99 ms", "mean batch", "refused", "errors"])
        let rate = Double(s.reserved) / elapsed
        table.append([String(connections), ResultTable.rate(elapsed), String(s.reserved), ResultTable.rate(rate),
                      ms(s.reserveLatency, 50), ms(s.reserveLatency, 99), ms(s.releaseLatency, 50),
                      ms(s.lockWait, 50), ms(s.lockWait, 99),
                      s.batches > 0 ? ResultTable.rate(Double(s.batchOperations) / Double(s.batches)) : "-",
                      String(s.refused), String(s.errors)])
        print()
        print("POST \(plan.reservePath) (\(quantity) x \(ticketClass))\(keep ? "" : " then DELETE"), keep-alive")
        print(table.render())
        if !s.statuses.isEmpty {
            print("statuses: " + s.statuses.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        }
        if let first = s.firstError { print("first error: \(first)") }
        if let summaryFile {
            func p(_ h: Histogram<UInt64>, _ q: Double) -> Double { h.totalCount > 0 ? Double(h.valueAtPercentile(q)) / 1000 : 0 }
            let summary: [String: Any] = [
                "connections": connections, "seconds": elapsed, "reservations": s.reserved, "reservationsPerSecond": rate,
                "reserveP50Ms": p(s.reserveLatency, 50), "reserveP99Ms": p(s.reserveLatency, 99),
                "releaseP50Ms": p(s.releaseLatency, 50), "lockWaitP50Ms": p(s.lockWait, 50), "lockWaitP99Ms": p(s.lockWait, 99),
                "meanBatch": s.batches > 0 ? Double(s.batchOperations) / Double(s.batches) : 0,
                "refused": s.refused, "errors": s.errors, "statuses": s.statuses,
            ]
            try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys]).write(to: URL(fileURLWithPath: summaryFile))
        }
    }
}

/// Counters of one reserve run. Confined to the client's one event loop (`NIOLoopBound`); the
/// command reads them through `loop.submit` once every connection has finished.
final class ReserveStats: @unchecked Sendable {
    var reserved = 0
    var released = 0
    var refused = 0
    var errors = 0
    var firstError: String?
    var statuses: [String: Int] = [:]
    var batches = 0
    var batchOperations = 0
    var reserveLatency = LatencyDigest.makeHistogram()
    var releaseLatency = LatencyDigest.makeHistogram()
    var lockWait = LatencyDigest.makeHistogram()

    func error(_ message: String) {
        errors += 1
        if firstError == nil { firstError = message }
    }

    func snapshot() -> ReserveStats { self }
}
