import Logging
import NIOCore
import NIOHTTP1
import Waitroom

/// Serves the requests of one connection: limits, routing, handler dispatch, error answers,
/// keep-alive. Last in the pipeline, behind ``HTTP1ServerCodec``, which hands over one request
/// at a time, so answers go out in request order even when clients pipeline.
/// Confined to the channel's event loop.
final class HTTPConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private struct RequestInfo {
        let head: HTTPRequestHead
        let requestID: String
        let start: NIODeadline
        var keepAlive: Bool
        /// After answering, close the output and drain the input for a while, then close.
        var linger = false
        var routeIndex: Int
    }

    private enum State {
        /// Waiting for a request head.
        case idle
        /// Reading a request body.
        case receiving(RequestInfo, body: ByteBuffer?, bodyBytes: Int)
        /// A handler is computing the answer.
        case responding(RequestInfo)
        /// A streamed body is being written.
        case streaming(RequestInfo, streamID: UInt64, stream: HTTPResponseStream, writer: HTTPBodyStreamWriter)
        /// The connection is ending; input is ignored.
        case closing
    }

    private let core: EdgeServerCore
    /// The connection came from another worker (``ConnectionHandoff``): it is not handed on.
    private let adopted: Bool
    /// A hand-off of this connection failed: it is not tried again.
    private var handOffFailed = false
    private var state: State = .idle
    private var context: ChannelHandlerContext?
    private var pendingTask: Task<Void, Never>?
    private var lastStreamID: UInt64 = 0

    /// Runs the connection's async handlers on its event loop (made on first use).
    private var loopExecutor: EventLoopTaskExecutor?

    private func taskExecutor(on eventLoop: any EventLoop) -> EventLoopTaskExecutor {
        if let executor = self.loopExecutor { return executor }
        let executor = EventLoopTaskExecutor(eventLoop: eventLoop)
        self.loopExecutor = executor
        return executor
    }

    init(core: EdgeServerCore, adopted: Bool = false) {
        self.core = core
        self.adopted = adopted
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.pendingTask?.cancel()
        self.pendingTask = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.state = .closing
        self.pendingTask?.cancel()
        self.pendingTask = nil
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is EdgeDrainEvent {
            if case .streaming(_, _, let stream, let writer) = self.state {
                stream.onDrain?(writer)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if case .streaming(_, _, let stream, let writer) = self.state, let hook = stream.onWritabilityChanged {
            hook(writer, context.channel.isWritable)
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.receivedHead(head, context: context)
        case .body(let buffer):
            self.receivedBody(buffer)
        case .end:
            self.receivedEnd(context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // An error after the connection closed (a 408 or a drain) has no one left to answer.
        guard context.channel.isActive else {
            self.state = .closing
            return
        }
        guard let parserError = error as? HTTPParserError else {
            self.core.logger.debug("connection error", metadata: ["error": "\(error)"])
            self.state = .closing
            context.close(promise: nil)
            return
        }
        let info: RequestInfo
        switch self.state {
        case .idle:
            info = self.makeInfo(head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/"))
        case .receiving(let receiving, _, _):
            info = receiving
        case .responding, .streaming, .closing:
            self.state = .closing
            context.close(promise: nil)
            return
        }
        let answer: HTTPError
        if case .headerOverflow = parserError {
            answer = .headerFieldsTooLarge
        } else {
            answer = .badRequest("The request is malformed HTTP.")
        }
        self.core.logger.debug("malformed request", metadata: ["request.id": "\(info.requestID)", "error": "\(parserError)"])
        self.rejectAndClose(info, answer)
    }

    private func makeInfo(head: HTTPRequestHead) -> RequestInfo {
        let requestID: String
        if let sent = head.headers.first(name: "x-request-id"), RequestIDGenerator.isAcceptable(sent) {
            requestID = sent
        } else {
            requestID = self.core.requestIDs.next()
        }
        return RequestInfo(
            head: head,
            requestID: requestID,
            start: .now(),
            keepAlive: head.isKeepAlive,
            routeIndex: self.core.metrics.unmatchedRoute
        )
    }

    private func receivedHead(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard case .idle = self.state else {
            if case .closing = self.state { return }
            // The codec guarantees one request at a time; anything else is a bug.
            self.state = .closing
            context.close(promise: nil)
            return
        }
        context.triggerUserOutboundEvent(HTTPConnectionEvent.requestHeadReceived, promise: nil)
        let info = self.makeInfo(head: head)

        let limit = self.core.configuration.maxBodyBytes
        if let declared = head.headers.first(name: "content-length"), let length = Int(declared), length > limit {
            self.rejectAndClose(info, .payloadTooLarge(limit: limit))
            return
        }
        if head.headers[canonicalForm: "expect"].contains(where: { $0.lowercased() == "100-continue" }) {
            let interim = HTTPResponseHead(version: head.version, status: .continue)
            context.writeAndFlush(self.wrapOutboundOut(.head(interim)), promise: nil)
        }
        self.state = .receiving(info, body: nil, bodyBytes: 0)
    }

    private func receivedBody(_ buffer: ByteBuffer) {
        guard case .receiving(let info, var body, var bodyBytes) = self.state else { return }
        // Drop the state's reference first so appending does not copy the buffer.
        self.state = .closing
        bodyBytes += buffer.readableBytes
        let limit = self.core.configuration.maxBodyBytes
        if bodyBytes > limit {
            self.rejectAndClose(info, .payloadTooLarge(limit: limit))
            return
        }
        if body == nil {
            body = buffer
        } else {
            var buffer = buffer
            body!.writeBuffer(&buffer)
        }
        self.state = .receiving(info, body: body, bodyBytes: bodyBytes)
    }

    private func receivedEnd(context: ChannelHandlerContext) {
        guard case .receiving(let info, let body, _) = self.state else { return }
        self.state = .responding(info)
        context.triggerUserOutboundEvent(HTTPConnectionEvent.requestEndReceived, promise: nil)
        self.dispatch(info, body: body ?? ByteBuffer(), context: context)
    }

    // MARK: Dispatch

    private func dispatch(_ info: RequestInfo, body: ByteBuffer, context: ChannelHandlerContext) {
        var info = info
        let (path, query) = HTTPRequest.splitTarget(info.head.uri)
        let match: RouteMatch
        switch self.core.router.match(method: info.head.method, path: path) {
        case .notFound:
            self.respond(info, error: HTTPError.notFound(), logger: self.core.logger)
            return
        case .methodNotAllowed(let allowed):
            self.respond(info, error: HTTPError.methodNotAllowed(allowed: allowed), logger: self.core.logger)
            return
        case .invalidID(let routeIndex, let parameter):
            info.routeIndex = routeIndex
            self.respond(info, error: HTTPError.invalidID(parameter: parameter), logger: self.core.logger)
            return
        case .matched(let found):
            match = found
        }
        info.routeIndex = match.routeIndex
        self.state = .responding(info)

        let request = HTTPRequest(
            method: info.head.method,
            uri: info.head.uri,
            path: path,
            query: query,
            version: info.head.version,
            headers: info.head.headers,
            body: body,
            pathParameters: match.parameters
        )
        var canHandOff = false
        if case .async = match.handler, self.core.handoff != nil, !self.adopted, !self.handOffFailed,
           info.keepAlive, info.head.version == .http1_1 {
            canHandOff = true
        }
        let requestContext = RequestContext(
            requestID: info.requestID,
            baseLogger: self.core.logger,
            eventLoop: context.eventLoop,
            remoteAddress: context.channel.remoteAddress,
            routePattern: match.pattern,
            canHandOff: canHandOff
        )

        switch match.handler {
        case .sync(let handler):
            let response: HTTPResponse
            do {
                response = try handler(request, requestContext)
            } catch {
                self.respond(info, error: error, logger: requestContext.logger)
                return
            }
            self.respond(info, response)
        case .async(let handler):
            self.run(handler, request, requestContext, info, context: context)
        case .future(let handler):
            let future: EventLoopFuture<HTTPResponse>
            do {
                future = try handler(request, requestContext)
            } catch {
                self.respond(info, error: error, logger: requestContext.logger)
                return
            }
            future.hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
                self.complete(info, result, requestContext: requestContext)
            }
        }
    }

    /// Runs an asynchronous handler on the connection's loop and answers with its outcome, or
    /// hands the connection over when the handler asks for it (and runs it again, without the
    /// option, when that fails).
    private func run(_ handler: @escaping HTTPHandler, _ request: HTTPRequest, _ requestContext: RequestContext,
                     _ info: RequestInfo, context: ChannelHandlerContext) {
        let promise = context.eventLoop.makePromise(of: HTTPResponse.self)
        self.pendingTask = Task(executorPreference: self.taskExecutor(on: context.eventLoop)) {
            do {
                promise.succeed(try await handler(request, requestContext))
            } catch {
                promise.fail(error)
            }
        }
        promise.futureResult.assumeIsolated().whenComplete { result in
            self.pendingTask = nil
            if case .failure(let error) = result, let handOff = error as? HTTPConnectionHandOff, requestContext.canHandOff {
                guard case .responding = self.state else { return }
                if self.handOff(to: handOff.target, request: request, requestID: info.requestID, context: context) {
                    requestContext.logger.debug("connection handed over", metadata: ["handoff.target": "\(handOff.target)"])
                    return
                }
                self.handOffFailed = true
                self.core.metrics.handOffs[HTTPMetrics.HandOff.failed.rawValue].increment()
                self.run(handler, request, requestContext.withoutHandOff(), info, context: context)
                return
            }
            self.complete(info, result, requestContext: requestContext)
        }
    }

    /// Hands the connection, with `request` and what the client pipelined behind it, to worker
    /// `target` (``ConnectionHandoff``); `false` when it stays here (reading as before).
    private func handOff(to target: Int, request: HTTPRequest, requestID: String, context: ChannelHandlerContext) -> Bool {
        guard let handoff = self.core.handoff,
              let codecContext = try? context.pipeline.syncOperations.context(handlerType: HTTP1ServerCodec.self),
              let codec = codecContext.handler as? HTTP1ServerCodec,
              let pipelined = codec.inputForHandOff(),
              // Everything answered before has left NIO (a pipelining client may not have read it yet).
              (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) == 0,
              let descriptor = HTTPDirectSocket.descriptor(of: context.channel)
        else { return false }
        var bytes = ConnectionHandoff.encode(request, requestID: requestID)
        bytes += pipelined.readableBytesView
        // Nothing more is read here: the kernel keeps what arrives for the receiver.
        try? context.channel.syncOptions?.setOption(.autoRead, value: false)
        guard handoff.send(descriptor: descriptor, bytes: bytes, to: target) else {
            try? context.channel.syncOptions?.setOption(.autoRead, value: true)
            return false
        }
        self.core.metrics.handOffs[HTTPMetrics.HandOff.sent.rawValue].increment()
        codec.handedOff()
        self.state = .closing
        // Closing our descriptor leaves the connection open: the receiver holds it too.
        context.close(promise: nil)
        return true
    }

    /// Answers with the outcome of an asynchronous handler, unless the connection went away.
    private func complete(_ info: RequestInfo, _ result: Result<HTTPResponse, any Error>, requestContext: RequestContext) {
        guard case .responding = self.state else { return }
        switch result {
        case .success(let response):
            self.respond(info, response)
        case .failure(let error):
            self.respond(info, error: error, logger: requestContext.logger)
        }
    }

    // MARK: Responses

    /// Answers with an error and ends the connection (the rest of the request is not read).
    private func rejectAndClose(_ info: RequestInfo, _ error: HTTPError) {
        var info = info
        info.keepAlive = false
        info.linger = true
        self.respond(info, error: error, logger: self.core.logger)
    }

    /// The one place where thrown errors become answers (through ``HTTPError/init(mapping:)``).
    private func respond(_ info: RequestInfo, error: any Error, logger: Logger) {
        let answer = HTTPError(mapping: error)
        if answer.status.code >= 500 {
            if error is any HTTPErrorConvertible {
                logger.warning("request failed", metadata: ["error.code": "\(answer.code)", "error": "\(error)"])
            } else {
                logger.error("unhandled error", metadata: ["error": "\(String(reflecting: error))"])
            }
        }
        self.core.metrics.recordError(code: answer.code)
        self.respond(info, .error(answer))
    }

    private func respond(_ info: RequestInfo, _ response: HTTPResponse) {
        guard let context = self.context else { return }
        guard HTTPHeaderCheck.isValid(response.headers) else {
            // A handler's bug, never the client's: answer 500 rather than write a broken head.
            self.core.logger.error("response header not valid", metadata: ["request.id": "\(info.requestID)",
                                                                           "http.target": "\(info.head.uri)"])
            self.core.metrics.recordError(code: HTTPError.internalError.code)
            self.respond(info, .error(.internalError))
            return
        }
        var info = info
        let version: HTTPVersion = (info.head.version.major == 1 && info.head.version.minor == 0) ? .http1_0 : .http1_1
        var headers = response.headers
        headers.add(name: "x-request-id", value: info.requestID)
        let status = response.status
        let bodyless = status.code < 200 || status == .noContent || status == .notModified
        switch response.body {
        case .empty:
            if !bodyless { headers.replaceOrAdd(name: "content-length", value: "0") }
        case .buffer(let buffer):
            headers.replaceOrAdd(name: "content-length", value: String(buffer.readableBytes))
        case .stream(let stream):
            // Without chunked encoding an HTTP/1.0 stream can only end by closing; a stream that
            // takes the connection over ends with it.
            if version == .http1_0 && !headers.contains(name: "content-length") { info.keepAlive = false }
            if stream.takesOverConnection && info.head.method != .HEAD { info.keepAlive = false }
        }
        if !info.keepAlive {
            headers.replaceOrAdd(name: "connection", value: "close")
        } else if version == .http1_0 {
            headers.replaceOrAdd(name: "connection", value: "keep-alive")
        }

        let duration = NIODeadline.now() - info.start
        self.core.metrics.recordRequest(route: info.routeIndex, status: status, durationNanoseconds: duration.nanoseconds)
        self.core.logger.debug("request", metadata: [
            "request.id": "\(info.requestID)",
            "http.method": "\(info.head.method.rawValue)",
            "http.target": "\(info.head.uri)",
            "http.status": "\(status.code)",
            "http.duration_us": "\(duration.nanoseconds / 1000)",
        ])

        context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        let isHead = info.head.method == .HEAD
        switch response.body {
        case .empty:
            break
        case .buffer(let buffer):
            if !isHead && buffer.readableBytes > 0 {
                context.write(self.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            }
        case .stream(let stream):
            if !isHead && stream.takesOverConnection {
                let chunked = version == .http1_1 && !headers.contains(name: "content-length")
                self.takeOver(stream, chunked: chunked, context: context)
                return
            }
            if !isHead {
                self.lastStreamID &+= 1
                let writer = HTTPBodyStreamWriter(handler: self, channel: context.channel, streamID: self.lastStreamID)
                self.state = .streaming(info, streamID: self.lastStreamID, stream: stream, writer: writer)
                context.flush()
                stream.start(writer)
                return
            }
        }
        self.writeEnd(info, context: context)
    }

    /// Ends the response; the state changes first because writing `.end` can synchronously
    /// deliver the next pipelined request.
    private func writeEnd(_ info: RequestInfo, context: ChannelHandlerContext) {
        if info.keepAlive {
            self.state = .idle
            context.triggerUserOutboundEvent(HTTPConnectionEvent.responseCompleted, promise: nil)
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        self.state = .closing
        let linger = info.linger
        let lingerTimeout = self.core.lingerTimeout
        context.writeAndFlush(self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            guard linger else {
                context.close(promise: nil)
                return
            }
            // Close our side, read and drop what the client still sends, then close: the client
            // sees the answer instead of a reset caused by unread input.
            context.close(mode: .output).assumeIsolated().whenFailure { _ in
                context.close(promise: nil)
            }
            _ = context.eventLoop.assumeIsolated().scheduleTask(in: lingerTimeout) {
                context.close(promise: nil)
            }
        }
    }

    /// Hands the connection to `stream` after its head: every other handler leaves the pipeline
    /// and an ``HTTPStreamHandler`` frames the body's writes itself.
    private func takeOver(_ stream: HTTPResponseStream, chunked: Bool, context: ChannelHandlerContext) {
        self.state = .closing
        context.flush()
        let streamHandler = HTTPStreamHandler(stream: stream, chunked: chunked)
        let pipeline = context.pipeline.syncOperations
        do {
            try pipeline.addHandler(streamHandler, position: .last)
            // The handlers EdgeServerCore.configure(_:) puts in front of this one.
            let leaving = [
                try? pipeline.context(handlerType: ConnectionTimeoutHandler.self),
                try? pipeline.context(handlerType: HTTP1ServerCodec.self),
            ]
            for case let handlerContext? in leaving {
                pipeline.removeHandler(context: handlerContext, promise: nil)
            }
            pipeline.removeHandler(context: context, promise: nil)
        } catch {
            context.close(promise: nil)
            return
        }
        let writer = HTTPBodyStreamWriter(streamHandler: streamHandler, channel: context.channel)
        streamHandler.writer = writer
        // The stream reads nothing more: its last read's buffer need not stay for the next one.
        ReceiveBufferRelease.release(of: context.channel)
        stream.start(writer)
    }

    // MARK: Streams (called by HTTPBodyStreamWriter on the event loop)

    func streamWrite(streamID: UInt64, _ buffer: ByteBuffer, flush: Bool) {
        guard case .streaming(_, let current, _, _) = self.state, current == streamID, let context = self.context else { return }
        context.write(self.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        if flush { context.flush() }
    }

    func streamFlush(streamID: UInt64) {
        guard case .streaming(_, let current, _, _) = self.state, current == streamID, let context = self.context else { return }
        context.flush()
    }

    func streamFinish(streamID: UInt64) {
        guard case .streaming(let info, let current, _, _) = self.state, current == streamID, let context = self.context else { return }
        self.writeEnd(info, context: context)
    }
}

