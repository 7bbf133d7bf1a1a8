import NIOCore
import NIOHTTP1

/// The server's HTTP/1 codec: one handler in place of NIO's request decoder, pipelining handler
/// and response encoder. Bytes in, request parts (`head`, `body`…, `end`) out to
/// ``HTTPConnectionHandler``; response parts in, bytes out.
///
/// - One request at a time: after a request's `end`, pipelined bytes stay buffered and are not
///   parsed until that request's response has ended (answers go out in request order). Reading
///   from the socket pauses only when more than `maxBufferedBytes` wait that way.
/// - A response's head, a small body and its end go out as one buffer (one `write` syscall).
/// - Framing: `Content-Length` when the head has one; otherwise chunked on HTTP/1.1 and
///   close-delimited on HTTP/1.0; nothing for `HEAD` requests or 1xx/204/304 answers.
/// - A request the parser refuses (``HTTPRequestParser``) is one `HTTPParserError` through
///   `errorCaught`; what arrives after it is dropped, as is what arrives after a response that
///   closes the connection.
/// - `ChannelShouldQuiesceEvent` (graceful shutdown): an idle connection closes at once; one in
///   the middle of a request closes after its response, which is sent with `connection: close`.
///
/// Why not NIO's three handlers: per keep-alive request they cost several pipeline hops per part,
/// a `writev` of three buffers, and an epoll re-registration each time the pipelining handler
/// stopped and restarted reads; a profile of `GET /healthz` put more than half of the server's
/// user-space time there. Confined to the channel's event loop.
final class HTTP1ServerCodec: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = IOData

    private enum Reading {
        case head
        case body(remaining: Int)
        case chunkLine
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers(bytes: Int)
        /// After a refused request or a closing response: input is dropped.
        case discarding
    }

    private enum BodyFraming {
        case none, length, chunked, closeDelimited
    }

    /// Bodies up to this size are copied behind their head into one buffer.
    static let coalesceLimit = 16 * 1024
    /// Longest chunk-size line (with extensions) accepted.
    static let maxChunkLineBytes = 4096

    private let maxHeadBytes: Int
    private let maxBufferedBytes: Int

    private var input: ByteBuffer?
    private var reading: Reading = .head
    /// A request's head was delivered and its `end` not yet.
    private var requestOpen = false
    /// A request's head was delivered and its response has not ended.
    private var responseOpen = false
    private var requestIsHead = false
    private var processing = false
    private var removed = false
    private var quiescing = false
    /// `read()` was held back while too much pipelined input waited.
    private var readHeld = false

    // The response being written.
    private var output: ByteBuffer?
    private var framing: BodyFraming = .none
    private var writesBody = true
    private var closesAfterResponse = false
    /// The handler's head closes the connection (it then closes it itself); when quiescing and it
    /// does not, the codec closes the connection after the response.
    private var handlerCloses = false

    init(maxHeadBytes: Int, maxBufferedBytes: Int = 256 * 1024) {
        self.maxHeadBytes = maxHeadBytes
        self.maxBufferedBytes = maxBufferedBytes
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.removed = true
        self.input = nil
        if let output = self.output {
            self.output = nil
            context.write(self.wrapOutboundOut(.byteBuffer(output)), promise: nil)
        }
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .discarding = self.reading { return }
        var incoming = self.unwrapInboundIn(data)
        if self.input == nil || self.input!.readableBytes == 0 {
            self.input = incoming
        } else {
            self.input!.writeBuffer(&incoming)
        }
        self.process(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.input = nil
        self.reading = .discarding
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        self.quiescing = true
        if !self.requestOpen && !self.responseOpen {
            // Between requests (a partly received head counts as between: nothing was answered).
            self.reading = .discarding
            self.input = nil
            context.close(promise: nil)
        }
        // Otherwise the response's head says `connection: close` and the connection closes
        // after it (and after the request's end, when the answer came early).
    }

    func read(context: ChannelHandlerContext) {
        if self.responseOpen && !self.requestOpen, let input = self.input, input.readableBytes >= self.maxBufferedBytes {
            self.readHeld = true
            return
        }
        context.read()
    }

    /// Parses and delivers what the buffered input holds, one request at a time. Re-entrant
    /// calls (a response ending while a part is being delivered) only let the loop go on.
    private func process(context: ChannelHandlerContext) {
        guard !self.processing else { return }
        self.processing = true
        defer { self.processing = false }
        while !self.removed && self.step(context: context) {}
        if let input = self.input, input.readableBytes == 0 {
            // Let go of the receive buffer so the channel can reuse it for the next read.
            self.input = nil
        }
    }

    /// One parsing step; false when nothing more can be done now.
    private func step(context: ChannelHandlerContext) -> Bool {
        switch self.reading {
        case .discarding:
            self.input = nil
            return false
        case .head:
            guard !self.responseOpen, let input = self.input, input.readableBytes > 0 else { return false }
            let parsed = input.withUnsafeReadableBytes { HTTPRequestParser.parseHead($0, limit: self.maxHeadBytes) }
            switch parsed {
            case .incomplete:
                return false
            case .failed(let error):
                self.fail(error, context: context)
                return false
            case .complete(let head, let bodyFraming, let consumed):
                self.input!.moveReaderIndex(forwardBy: consumed)
                self.requestOpen = true
                self.responseOpen = true
                self.requestIsHead = head.method == .HEAD
                switch bodyFraming {
                case .none: self.reading = .body(remaining: 0)
                case .length(let length): self.reading = .body(remaining: length)
                case .chunked: self.reading = .chunkLine
                }
                context.fireChannelRead(self.wrapInboundOut(.head(head)))
                if case .body(remaining: 0) = self.reading { self.requestEnded(context: context) }
                return true
            }
        case .body(let remaining):
            guard let slice = self.takeBodyBytes(upTo: remaining) else { return false }
            let length = slice.readableBytes
            self.reading = .body(remaining: remaining - length)
            context.fireChannelRead(self.wrapInboundOut(.body(slice)))
            if remaining == length, case .body = self.reading { self.requestEnded(context: context) }
            return true
        case .chunkLine:
            guard let input = self.input, input.readableBytes > 0 else { return false }
            let parsed = input.withUnsafeReadableBytes { HTTPRequestParser.parseChunkLine($0, limit: Self.maxChunkLineBytes) }
            switch parsed {
            case .incomplete:
                return false
            case .failed:
                self.fail(.invalidChunkSize, context: context)
                return false
            case .size(let size, let consumed):
                self.input!.moveReaderIndex(forwardBy: consumed)
                self.reading = size == 0 ? .trailers(bytes: 0) : .chunkData(remaining: size)
                return true
            }
        case .chunkData(let remaining):
            guard let slice = self.takeBodyBytes(upTo: remaining) else { return false }
            let length = slice.readableBytes
            self.reading = remaining == length ? .chunkDataEnd : .chunkData(remaining: remaining - length)
            context.fireChannelRead(self.wrapInboundOut(.body(slice)))
            return true
        case .chunkDataEnd:
            guard let input = self.input, input.readableBytes > 0 else { return false }
            let first = input.getInteger(at: input.readerIndex, as: UInt8.self)!
            if first == UInt8(ascii: "\r") {
                guard input.readableBytes >= 2 else { return false }
                guard input.getInteger(at: input.readerIndex + 1, as: UInt8.self) == UInt8(ascii: "\n") else {
                    self.fail(.invalidChunkSize, context: context)
                    return false
                }
                self.input!.moveReaderIndex(forwardBy: 2)
            } else {
                self.fail(.invalidChunkSize, context: context)
                return false
            }
            self.reading = .chunkLine
            return true
        case .trailers(let bytes):
            // Trailer fields are read and dropped (no route reads them); they count against the
            // head limit.
            guard let input = self.input, input.readableBytes > 0 else { return false }
            let line = input.withUnsafeReadableBytes { HTTPRequestParser.line($0, from: 0) }
            guard let found = line else {
                if bytes + input.readableBytes > self.maxHeadBytes { self.fail(.headerOverflow, context: context) }
                return false
            }
            guard let (end, next) = found else {
                self.fail(.lfExpected, context: context)
                return false
            }
            if bytes + next > self.maxHeadBytes {
                self.fail(.headerOverflow, context: context)
                return false
            }
            let valid = input.withUnsafeReadableBytes { bytes in
                (0..<end).allSatisfy { HTTPHeaderCheck.isFieldValueCharacter(bytes[$0]) }
            }
            guard valid else {
                self.fail(.invalidHeaderToken, context: context)
                return false
            }
            self.input!.moveReaderIndex(forwardBy: next)
            if end == 0 {
                self.requestEnded(context: context)
            } else {
                self.reading = .trailers(bytes: bytes + next)
            }
            return true
        }
    }

    /// Up to `remaining` bytes of body from the input (a slice, no copy); nil when none has come.
    private func takeBodyBytes(upTo remaining: Int) -> ByteBuffer? {
        guard var input = self.input, input.readableBytes > 0 else { return nil }
        let slice = input.readSlice(length: min(remaining, input.readableBytes))!
        self.input = input
        return slice
    }

    private func requestEnded(context: ChannelHandlerContext) {
        self.requestOpen = false
        self.reading = .head
        let answeredEarly = !self.responseOpen
        context.fireChannelRead(self.wrapInboundOut(.end(nil)))
        if answeredEarly && (self.closesAfterResponse || self.quiescing) {
            // The answer came before the request's end and it ends the connection.
            self.reading = .discarding
            self.input = nil
            if self.quiescing && !self.handlerCloses { context.close(promise: nil) }
        }
    }

    private func fail(_ error: HTTPParserError, context: ChannelHandlerContext) {
        self.reading = .discarding
        self.input = nil
        context.fireErrorCaught(error)
    }

    // MARK: Hand-off (ConnectionHandoff)

    /// What the client sent after the request being answered (pipelined, not parsed yet), when
    /// the connection can be handed over now: the request was received whole, its response has
    /// not begun, nothing is being written and the connection is not closing; `nil` otherwise.
    func inputForHandOff() -> ByteBuffer? {
        guard !self.removed, !self.quiescing, !self.requestOpen, self.responseOpen, self.output == nil,
              !self.closesAfterResponse, case .head = self.reading else { return nil }
        return self.input ?? ByteBuffer()
    }

    /// The connection was handed over: nothing more is parsed or written here.
    func handedOff() {
        self.reading = .discarding
        self.input = nil
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch self.unwrapOutboundIn(data) {
        case .head(let head):
            let code = head.status.code
            if code < 200 && code != 101 {
                // An interim answer (100 Continue): on its own, and the response goes on.
                var buffer = context.channel.allocator.buffer(capacity: 64)
                Self.writeStatusLine(head, into: &buffer)
                buffer.writeStaticString("\r\n")
                context.write(self.wrapOutboundOut(.byteBuffer(buffer)), promise: promise)
                return
            }
            var buffer = context.channel.allocator.buffer(capacity: 256)
            self.encodeHead(head, into: &buffer)
            self.output = buffer
            if promise != nil { self.writeOutput(context: context, promise: promise) }
        case .body(let body):
            guard self.writesBody else {
                promise?.succeed(())
                return
            }
            let length = body.readableBytes
            if length == 0 {
                promise?.succeed(())
                return
            }
            if case .byteBuffer(var buffer) = body, length <= Self.coalesceLimit, promise == nil {
                var output = self.output ?? context.channel.allocator.buffer(capacity: length + 16)
                self.output = nil
                if self.framing == .chunked { Self.writeChunkHeader(length, into: &output) }
                output.writeBuffer(&buffer)
                if self.framing == .chunked { output.writeStaticString("\r\n") }
                self.output = output
                return
            }
            if self.framing == .chunked {
                var header = self.output ?? context.channel.allocator.buffer(capacity: 16)
                self.output = nil
                Self.writeChunkHeader(length, into: &header)
                context.write(self.wrapOutboundOut(.byteBuffer(header)), promise: nil)
                context.write(self.wrapOutboundOut(body), promise: nil)
                self.output = context.channel.allocator.buffer(string: "\r\n")
                if promise != nil { self.writeOutput(context: context, promise: promise) }
            } else {
                self.writeOutput(context: context, promise: nil)
                context.write(self.wrapOutboundOut(body), promise: promise)
            }
        case .end:
            if self.writesBody && self.framing == .chunked {
                var output = self.output ?? context.channel.allocator.buffer(capacity: 5)
                self.output = nil
                output.writeStaticString("0\r\n\r\n")
                self.output = output
            }
            if self.output == nil && promise != nil { self.output = context.channel.allocator.buffer(capacity: 0) }
            if self.quiescing && !self.handlerCloses && !self.requestOpen {
                // Graceful shutdown: the connection closes once this answer is on the wire.
                let written = promise ?? context.eventLoop.makePromise()
                if self.output == nil { self.output = context.channel.allocator.buffer(capacity: 0) }
                self.writeOutput(context: context, promise: written)
                written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                self.responseEnded(context: context)
                context.flush()
                return
            }
            self.writeOutput(context: context, promise: promise)
            self.responseEnded(context: context)
        }
    }

    func flush(context: ChannelHandlerContext) {
        self.writeOutput(context: context, promise: nil)
        context.flush()
    }

    private func writeOutput(context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        guard let output = self.output else {
            promise?.succeed(())
            return
        }
        self.output = nil
        context.write(self.wrapOutboundOut(.byteBuffer(output)), promise: promise)
    }

    private func responseEnded(context: ChannelHandlerContext) {
        let wasOpen = self.responseOpen
        self.responseOpen = false
        self.requestIsHead = false
        let closes = self.closesAfterResponse || self.quiescing
        if closes && !self.requestOpen {
            // The connection ends with this answer: nothing after it is a request to serve.
            self.reading = .discarding
            self.input = nil
            return
        }
        if closes {
            // Answered early: the request's remaining body is read (and dropped by the handler),
            // then input stops (`requestEnded`).
            return
        }
        guard wasOpen else { return }
        if self.readHeld {
            self.readHeld = false
            context.read()
        }
        // Pipelined requests waiting in the buffer (when called from inside `process`, its loop
        // picks them up).
        if !self.processing && self.input != nil {
            context.eventLoop.assumeIsolated().execute {
                guard !self.removed else { return }
                self.process(context: context)
            }
        }
    }

    private func encodeHead(_ head: HTTPResponseHead, into buffer: inout ByteBuffer) {
        Self.writeStatusLine(head, into: &buffer)
        var hasLength = false
        var hasTransferEncoding = false
        var closes = head.version.minor == 0
        for (name, value) in head.headers {
            if name.utf8.count == 10, name.lowercased() == "connection" {
                let lowered = value.lowercased()
                if lowered.contains("close") { closes = true } else if lowered.contains("keep-alive") { closes = false }
                if self.quiescing { continue }
            } else if name.utf8.count == 14, name.lowercased() == "content-length" {
                hasLength = true
            } else if name.utf8.count == 17, name.lowercased() == "transfer-encoding" {
                hasTransferEncoding = true
            }
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        if self.quiescing {
            buffer.writeStaticString("connection: close\r\n")
        }
        let code = head.status.code
        if code < 200 || code == 204 || code == 304 {
            self.framing = .none
        } else if hasLength {
            self.framing = .length
        } else if head.version.minor == 1 {
            if !hasTransferEncoding { buffer.writeStaticString("transfer-encoding: chunked\r\n") }
            self.framing = .chunked
        } else {
            self.framing = .closeDelimited
            closes = true
        }
        buffer.writeStaticString("\r\n")
        self.writesBody = self.framing != .none && !self.requestIsHead
        self.handlerCloses = closes
        self.closesAfterResponse = closes || self.quiescing
    }

    private static func writeStatusLine(_ head: HTTPResponseHead, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(head.version.minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ")
        let code = head.status.code
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(code / 100 % 10))
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(code / 10 % 10))
        buffer.writeInteger(UInt8(ascii: "0") + UInt8(code % 10))
        buffer.writeInteger(UInt8(ascii: " "))
        buffer.writeString(head.status.reasonPhrase)
        buffer.writeStaticString("\r\n")
    }

    private static func writeChunkHeader(_ length: Int, into buffer: inout ByteBuffer) {
        buffer.writeString(String(length, radix: 16))
        buffer.writeStaticString("\r\n")
    }
}
