import Foundation
import LoadKit
import NIOCore

/// Reads one child's stdout: JSON report lines go to the shared state, anything else to stderr.
final class ChildOutputHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let state: CoordinatorState
    private var splitter = LineSplitter()
    private let decoder = JSONDecoder()

    init(state: CoordinatorState) { self.state = state }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        for line in self.splitter.append(buffer.readableBytesView) where !line.isEmpty {
            if let report = try? self.decoder.decode(WorkerReport.self, from: Data(line.utf8)) {
                self.state.ingest(report)
            } else {
                StandardError.write("child: \(line)\n")
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.state.childClosedOutput()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
