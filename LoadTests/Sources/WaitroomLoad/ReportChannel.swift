import Foundation
import LoadKit
import NIOCore
import NIOPosix

/// A worker's stdout as a NIO pipe channel: reports go out as JSON lines without blocking the loop.
struct ReportChannel: Sendable {
    private let channel: Channel

    /// Takes over fd 1.
    static func standardOutput(on loop: EventLoop) async throws -> ReportChannel {
        let channel = try await NIOPipeBootstrap(group: loop).takingOwnershipOfDescriptor(output: 1).get()
        return ReportChannel(channel: channel)
    }

    /// Sends `report`: after a final one, `done` succeeds once it is written; when a periodic one
    /// cannot be written, the coordinator is gone (its end of the pipe closed) and the process
    /// exits at once rather than linger.
    func deliver(_ report: WorkerReport, completing done: EventLoopPromise<Void>) {
        let future = self.send(report)
        if report.final {
            future.whenComplete { _ in done.succeed(()) }
        } else {
            future.whenFailure { _ in exit(3) }
        }
    }

    /// Sends one report as a line; the future completes once it was written.
    func send(_ report: WorkerReport) -> EventLoopFuture<Void> {
        do {
            var data = try JSONEncoder().encode(report)
            data.append(UInt8(ascii: "\n"))
            return self.channel.writeAndFlush(ByteBuffer(bytes: data))
        } catch {
            return self.channel.eventLoop.makeFailedFuture(error)
        }
    }
}
