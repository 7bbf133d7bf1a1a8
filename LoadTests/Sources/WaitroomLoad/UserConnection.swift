import LoadKit
import NIOCore
import NIOHTTP1

/// One keep-alive connection of an on-sale user: sends the user's requests one at a time and hands
/// back each response (or, for a stream, each event). Runs on the worker's event loop.
final class UserConnection: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let user: CheckoutUser
    private let hostHeader: String
    private var context: ChannelHandlerContext?
    private var inFlight: UserRequest?
    private var status: UInt = 0
    private var body: [UInt8] = []
    private var parser = SSEFrameParser()
    private var streaming = false
    private var closing = false

    init(user: CheckoutUser, hostHeader: String) {
        self.user = user
        self.hostHeader = hostHeader
    }

    /// Whether a next request can go on this connection.
    var isReusable: Bool { self.context != nil && !self.closing && self.inFlight == nil }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        self.user.connected(self)
    }

    /// Sends `request` (the connection must be reusable).
    func send(_ request: UserRequest) {
        guard let context = self.context else { return }
        var head = HTTPRequestHead(version: .http1_1, method: request.method, uri: request.path)
        head.headers.add(name: "Host", value: self.hostHeader)
        if let token = request.token { head.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let key = request.idempotencyKey { head.headers.add(name: "Idempotency-Key", value: key) }
        if request.stream { head.headers.add(name: "Accept", value: "text/event-stream") }
        if let id = request.lastEventID { head.headers.add(name: "Last-Event-ID", value: id) }
        if let json = request.json {
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: String(json.utf8.count))
        }
        self.inFlight = request
        self.status = 0
        self.streaming = false
        self.body.removeAll(keepingCapacity: true)
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        if let json = request.json { context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: json)))), promise: nil) }
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
    }

    /// Closes the connection; the user is not told (it asked).
    func close() {
        self.closing = true
        self.inFlight = nil
        self.context?.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let request = self.inFlight else { return }
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.status = head.status.code
            if !head.isKeepAlive { self.closing = true }
            if request.stream, self.status == 200 {
                self.streaming = true
                self.parser = SSEFrameParser()
                self.user.streamOpened()
            }
        case .body(let buffer):
            if self.streaming {
                var events: [SSEEvent] = []
                self.parser.feed(buffer.readableBytesView) { events.append($0) }
                for event in events where self.inFlight != nil { self.user.streamEvent(event, lastEventID: self.parser.lastEventID) }
            } else if self.body.count < 65_536 {
                self.body.append(contentsOf: buffer.readableBytesView)
            }
        case .end:
            self.inFlight = nil
            if self.streaming {
                self.streaming = false
                self.user.streamEnded(lastEventID: self.parser.lastEventID)
            } else {
                self.user.response(to: request, status: self.status, body: self.body)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.context = nil
        let request = self.inFlight
        self.inFlight = nil
        if !self.closing || request != nil { self.user.connectionClosed(self, inFlight: request, wasStreaming: self.streaming) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
