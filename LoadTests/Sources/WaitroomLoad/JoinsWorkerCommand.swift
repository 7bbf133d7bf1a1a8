import ArgumentParser
import Glibc
import LoadKit
import NIOCore
import NIOPosix

/// `joins-worker` (hidden): one child process of a joins run; reports on stdout as JSON lines.
struct JoinsWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "joins-worker", abstract: "One child process of `joins` (internal).", shouldDisplay: false)

    @OptionGroup var options: JoinsOptions
    @OptionGroup var identity: WorkerIdentity

    func run() async throws {
        ResourceLimits.raiseFileLimit()
        let url = try URLTemplate(self.options.url)
        let (event, duration, prefix) = (self.options.event, self.options.duration, self.options.userPrefix)
        let (worker, connections) = (self.identity.workerIndex, self.identity.workerConnections)
        let sources = SourceAddressPool(count: self.options.sourceAddresses)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let reports = try await ReportChannel.standardOutput(on: loop)
        let started = WallClock.monotonicSeconds()
        try await loop.flatSubmit { () -> EventLoopFuture<Void> in
            let counters = WorkerCounters()
            let bound = NIOLoopBound(counters, eventLoop: loop)
            @Sendable func report(final: Bool) -> EventLoopFuture<Void> {
                reports.send(bound.value.report(
                    worker: worker, target: connections, elapsed: WallClock.monotonicSeconds() - started, final: final))
            }
            let ticker = loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
                // The coordinator is gone (its end of the pipe closed): stop at once.
                report(final: false).whenFailure { _ in Glibc.exit(3) }
            }
            do {
                let connector = try Connector(loop: loop, host: url.host, port: url.port, sourceAddresses: sources.addresses)
                let pool = JoinPool(
                    wantedTickets: nil, deadline: .now() + .milliseconds(Int64(duration * 1000)),
                    userPrefix: "\(prefix)-w\(worker)", connector: connector, counters: counters,
                    path: url.path(["event": event]), hostHeader: url.hostHeader, worker: worker)
                return pool.start(connections: connections).flatMap { _ in
                    ticker.cancel()
                    return report(final: true)
                }
            } catch {
                ticker.cancel()
                counters.error("\(error)", worker: worker)
                return report(final: true)
            }
        }.get()
        Glibc.exit(0)
    }
}
