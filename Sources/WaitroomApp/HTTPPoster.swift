import NIOCore
import NIOHTTP1
import NIOPosix

/// A minimal HTTP/1.1 client for the server's own outgoing calls (the payment simulator's
/// webhook calls, the outbox's HTTP sink) and for `waitroomd admin`. One request per connection
/// (`Connection: close`), plain `http://` only, a deadline on the whole exchange.
public struct HTTPPoster: Sendable {
    public struct BadURL: Error, CustomStringConvertible { public var description: String }

    let group: any EventLoopGroup

    public init(group: any EventLoopGroup) {
        self.group = group
    }

    func post(_ url: String, body: [UInt8], headers: [(String, String)] = [],
              timeout: TimeAmount = .seconds(5)) async throws -> Int {
        try await exchange(url, body: body, headers: headers, timeout: timeout).status
    }

    /// The status and body (up to 1 MiB) of a POST.
    func exchange(_ url: String, body: [UInt8], headers: [(String, String)] = [],
                  timeout: TimeAmount = .seconds(5)) async throws -> (status: Int, body: [UInt8]) {
        try await send(.POST, url, body: body, headers: headers, timeout: timeout)
    }

    /// The status and body (up to 1 MiB) of one request. A JSON body is sent when `body` is not
    /// nil. Throws `ChannelError.connectTimeout` when connecting or the whole exchange takes
    /// longer than `timeout`, and the connection's error when the server cannot be reached.
    public func send(_ method: HTTPMethod, _ url: String, body: [UInt8]? = nil, headers: [(String, String)] = [],
                     timeout: TimeAmount = .seconds(5)) async throws -> (status: Int, body: [UInt8]) {
        let (host, port, path) = try Self.split(url)
        let loop = group.next()
        let status = loop.makePromise(of: (status: Int, body: [UInt8]).self)
        let deadline = loop.scheduleTask(in: timeout) {
            status.fail(ChannelError.connectTimeout(timeout))
        }
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: loop)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(StatusCollector(status: status))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            // Settle the promise now: one left pending when its event loop shuts down is a leak.
            deadline.cancel()
            status.fail(error)
            throw error
        }
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
        head.headers.add(name: "Host", value: "\(host):\(port)")
        if let body {
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: String(body.count))
        }
        head.headers.add(name: "Connection", value: "close")
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil) }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        defer {
            deadline.cancel()
            channel.close(promise: nil)
        }
        return try await status.futureResult.get()
    }

    /// Host, port and path of an `http://` URL.
    public static func split(_ url: String) throws -> (host: String, port: Int, path: String) {
        guard url.hasPrefix("http://") else { throw BadURL(description: "only http:// URLs are supported: \(url)") }
        let rest = url.dropFirst(7)
        let authority = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(authority.count)
        let parts = authority.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard let host = parts.first, !host.isEmpty else { throw BadURL(description: "no host in \(url)") }
        let port = parts.count == 2 ? Int(parts[1]) : 80
        guard let port, (1...65_535).contains(port) else { throw BadURL(description: "bad port in \(url)") }
        return (String(host), port, path.isEmpty ? "/" : String(path))
    }

    private final class StatusCollector: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        let status: EventLoopPromise<(status: Int, body: [UInt8])>
        private var code = 0
        private var body: [UInt8] = []

        init(status: EventLoopPromise<(status: Int, body: [UInt8])>) { self.status = status }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): code = Int(head.status.code)
            case .body(let buffer): if body.count < 1 << 20 { body += buffer.readableBytesView }
            case .end: status.succeed((code, body))
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            status.fail(ChannelError.eof)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            status.fail(error)
            context.close(promise: nil)
        }
    }
}
