import Foundation
import LoadKit
import NIOCore
import NIOHTTP1
import NIOPosix

/// The admin API of the server under test, one request per connection (a few a second at most):
/// the coordinator reads the event's stats and resumes admission with it.
struct AdminClient: Sendable {
    /// A response: status and body.
    struct Response: Sendable {
        var status: UInt
        var body: [UInt8]
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let group: EventLoopGroup
    let base: URLTemplate
    let token: String

    /// Sends `method path` with an optional JSON body; fails after `timeout`.
    func send(_ method: HTTPMethod, _ path: String, json: String? = nil, timeout: TimeAmount = .seconds(5)) async throws -> Response {
        let loop = self.group.next()
        let promise = loop.makePromise(of: Response.self)
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
        head.headers.add(name: "Host", value: self.base.hostHeader)
        head.headers.add(name: "Authorization", value: "Bearer \(self.token)")
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: String(json?.utf8.count ?? 0))
        head.headers.add(name: "Connection", value: "close")
        let request = head
        let channel = try await ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise))
                }
            }
            .connect(host: self.base.host, port: self.base.port).get()
        channel.write(HTTPClientRequestPart.head(request), promise: nil)
        if let json { channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: json))), promise: nil) }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        // No answer in time: closing the channel fails the promise (the collector completes it once).
        let timer = loop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        defer {
            timer.cancel()
            channel.close(promise: nil)
        }
        return try await promise.futureResult.get()
    }

    /// Collects one response into the promise (or fails it when the connection closes first).
    private final class ResponseCollector: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        private let promise: EventLoopPromise<Response>
        private var status: UInt = 0
        private var body: [UInt8] = []
        private var completed = false

        init(promise: EventLoopPromise<Response>) { self.promise = promise }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch self.unwrapInboundIn(data) {
            case .head(let head): self.status = head.status.code
            case .body(let buffer): self.body.append(contentsOf: buffer.readableBytesView)
            case .end: self.complete(.success(Response(status: self.status, body: self.body)))
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            self.complete(.failure(Failure(description: "connection closed before the response")))
            context.fireChannelInactive()
        }

        private func complete(_ result: Result<Response, Error>) {
            guard !self.completed else { return }
            self.completed = true
            self.promise.completeWith(result)
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            self.complete(.failure(error))
            context.close(promise: nil)
        }
    }
}
