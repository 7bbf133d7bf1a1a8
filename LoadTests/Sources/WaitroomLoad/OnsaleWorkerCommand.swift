import ArgumentParser
import Glibc
import NIOCore
import NIOPosix

/// `onsale-worker` (hidden): one child process of an on-sale run; reports on stdout as JSON lines.
struct OnsaleWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "onsale-worker", abstract: "One child process of `onsale` (internal).", shouldDisplay: false)

    @OptionGroup var options: OnsaleOptions
    @OptionGroup var identity: WorkerIdentity

    func run() async throws {
        ResourceLimits.raiseFileLimit()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let reports = try await ReportChannel.standardOutput(on: loop)
        let (options, identity) = (self.options, self.identity)
        try await loop.flatSubmit {
            OnsaleWorker(options: options, identity: identity, loop: loop, reports: reports).run()
        }.get()
        // Exiting closes every socket at once.
        Glibc.exit(0)
    }
}
