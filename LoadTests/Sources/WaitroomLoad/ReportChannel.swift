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
