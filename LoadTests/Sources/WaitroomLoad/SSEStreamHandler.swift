import LoadKit
import NIOCore
import NIOHTTP1

/// One SSE subscriber connection: sends the `GET`, then counts the frames of the response body.
///
/// A frame whose data carries `"ts"` (the publisher's wall clock in µs) gives a latency sample
/// of now − ts, except the first frame of each stream: a server may send the current value at
/// once on connect (Waitroom does), which is not an update and says nothing of update latency.
/// From a stream's third update on, `position` samples also count as steady: the first two
/// updates of a stream that connected before the publishing started come in the bursts when
/// every value changes at once (and an `admitted` event is another measure).
/// Runs on the worker's event loop; `WorkerCounters` is confined to it.
final class SSEStreamHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let path: String
    private let hostHeader: String
    private let counters: WorkerCounters
    private let worker: Int
    private var parser = SSEFrameParser()
    private var isOpen = false
    private var framesSeen = 0
    private var positionsSeen = 0

    init(path: String, hostHeader: String, counters: WorkerCounters, worker: Int) {
        self.path = path
        self.hostHeader = hostHeader
        self.counters = counters
        self.worker = worker
    }

    func channelActive(context: ChannelHandlerContext) {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: self.path)
        head.headers.add(name: "Host", value: self.hostHeader)
        head.headers.add(name: "Accept", value: "text/event-stream")
        head.headers.add(name: "Cache-Control", value: "no-cache")
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.counters.status(head.status.code)
            if head.status == .ok {
                self.isOpen = true
                self.counters.open += 1
            } else {
                self.counters.error("GET \(self.path): status \(head.status.code)", worker: self.worker)
                context.close(promise: nil)
            }
        case .body(let buffer):
            guard self.isOpen else { return }
            let counters = self.counters
            var now: UInt64 = 0
            var framesSeen = self.framesSeen
            var positionsSeen = self.positionsSeen
            self.parser.feed(buffer.readableBytesView) { event in
                counters.events += 1
                counters.eventsByType[event.type, default: 0] += 1
                framesSeen += 1
                if event.type == "position" { positionsSeen += 1 }
                if framesSeen > 1, let ts = JSONScan.unsignedInteger("ts", in: event.data) {
                    if now == 0 { now = WallClock.unixMicroseconds() }
                    // Steady: the third update on (the first position is the value on connect).
                    counters.recordLatency(now > ts ? now - ts : 0, steady: event.type == "position" && positionsSeen > 3)
                }
            }
            self.framesSeen = framesSeen
            self.positionsSeen = positionsSeen
        case .end:
            // The server ended the stream (e.g. after `admitted` or `sold_out`).
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if self.isOpen {
            self.isOpen = false
            self.counters.open -= 1
            self.counters.closed += 1
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        self.counters.error("stream \(self.path): \(error)", worker: self.worker)
        context.close(promise: nil)
    }
}
