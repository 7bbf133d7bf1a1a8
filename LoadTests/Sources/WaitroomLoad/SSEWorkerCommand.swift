import ArgumentParser
import Glibc
import LoadKit
import NIOCore
import NIOPosix

/// `sse-worker` (hidden): one child process of an SSE run; reports on stdout as JSON lines.
struct SSEWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sse-worker", abstract: "One child process of `sse` (internal).", shouldDisplay: false)

    @OptionGroup var options: SSEOptions
    @OptionGroup var identity: WorkerIdentity

    func run() async throws {
        ResourceLimits.raiseFileLimit()
        let plan = try SSEWorkerPlan(options: self.options, identity: self.identity)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let reports = try await ReportChannel.standardOutput(on: loop)
        try await loop.flatSubmit {
            SSEWorker(plan: plan, loop: loop, reports: reports).run()
        }.get()
        // Exiting closes every socket in the kernel at once; a graceful close of 12k channels adds nothing.
        Glibc.exit(0)
    }
}
