import LoadKit
import NIOCore
import NIOHTTP1

/// One keep-alive connection that posts `POST /v1/events/{e}/queue` joins back to back.
///
/// Each completed response counts its status and latency; a `2xx` with a `"ticket"` is handed to
/// the `JoinDriver`. When the driver has no more users, the connection closes.
final class JoinRequester: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let path: String
    private let hostHeader: String
    private let counters: WorkerCounters
    private let driver: JoinDriver
    private let worker: Int
    private var sentAt: NIODeadline?
    private var status: HTTPResponseStatus = .ok
    private var body: [UInt8] = []
    private var serverCloses = false

    init(path: String, hostHeader: String, counters: WorkerCounters, driver: JoinDriver, worker: Int) {
        self.path = path
        self.hostHeader = hostHeader
        self.counters = counters
        self.driver = driver
        self.worker = worker
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        self.sendNext(context: context)
    }

    private func sendNext(context: ChannelHandlerContext) {
        guard let user = self.driver.nextUserID() else {
            context.close(promise: nil)
            return
        }
        let json = "{\"userId\":\"\(user)\"}"
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: self.path)
        head.headers.add(name: "Host", value: self.hostHeader)
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: String(json.utf8.count))
        self.sentAt = .now()
        self.body.removeAll(keepingCapacity: true)
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: json)))), promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.status = head.status
            // The server's last response on this connection (e.g. nginx's keepalive_requests).
            self.serverCloses = !head.isKeepAlive
        case .body(let buffer):
            if self.body.count < 16_384 { self.body.append(contentsOf: buffer.readableBytesView) }
        case .end:
            guard let sentAt = self.sentAt else { return }
            self.sentAt = nil
            let micros = (NIODeadline.now() - sentAt).nanoseconds / 1_000
            self.counters.requests += 1
            self.counters.status(self.status.code)
            self.counters.recordLatency(UInt64(max(micros, 1)))
            var ticket: String?
            if (200..<300).contains(self.status.code) {
                ticket = JSONScan.string("ticket", in: self.body)
                if ticket == nil, self.driver.wantedTickets != nil {
                    self.counters.error("POST \(self.path): \(self.status.code) without a ticket", worker: self.worker)
                } else if ticket == nil {
                    ticket = ""
                }
            } else if self.counters.statuses[String(self.status.code)] == 1 {
                StandardError.write("worker \(self.worker): POST \(self.path): status \(self.status.code) \(String(decoding: self.body.prefix(200), as: UTF8.self))\n")
            }
            self.driver.completed(ticket: ticket)
            if self.serverCloses {
                context.close(promise: nil)  // the pool reopens it while work remains
            } else {
                self.sendNext(context: context)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if self.sentAt != nil {
            self.sentAt = nil
            self.counters.error("POST \(self.path): connection closed mid-request", worker: self.worker)
            self.driver.completed(ticket: nil)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        self.counters.error("POST \(self.path): \(error)", worker: self.worker)
        context.close(promise: nil)
    }
}
