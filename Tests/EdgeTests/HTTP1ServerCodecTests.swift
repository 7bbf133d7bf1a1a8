@testable import Edge
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// The request parser, byte by byte, and the codec in an `EmbeddedChannel` (what it delivers,
/// what it writes, when it waits). The same behaviour over real TCP is in `EdgeServerTests`.
@Suite("HTTP/1 codec")
struct HTTP1ServerCodecTests {
    // MARK: Parser

    private func parse(_ text: String, limit: Int = 4096) -> HTTPHeadParse {
        Array(text.utf8).withUnsafeBytes { HTTPRequestParser.parseHead($0, limit: limit) }
    }

    private func head(_ text: String) throws -> (HTTPRequestHead, HTTPBodyFraming, Int) {
        guard case .complete(let head, let framing, let consumed) = self.parse(text) else {
            throw TestClientError(description: "not a complete head: \(self.parse(text))")
        }
        return (head, framing, consumed)
    }

    private func failure(_ text: String, limit: Int = 4096) -> HTTPParserError? {
        if case .failed(let error) = self.parse(text, limit: limit) { return error }
        return nil
    }

    @Test func aSimpleHeadIsParsed() throws {
        let text = "POST /v1/events/e1/queue?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\nX-Empty:\r\nX-Pad:  v w \t\r\n\r\nbody"
        let (head, framing, consumed) = try self.head(text)
        #expect(head.method == .POST)
        #expect(head.uri == "/v1/events/e1/queue?x=1")
        #expect(head.version == .http1_1)
        #expect(head.headers["host"] == ["a"])
        #expect(head.headers["x-empty"] == [""])
        #expect(head.headers["x-pad"] == ["v w"])
        #expect(framing == .length(12))
        #expect(consumed == text.utf8.count - 4)
        #expect(head.isKeepAlive)
    }

    @Test func methodsVersionsAndLineEnds() throws {
        for method in ["GET", "PUT", "POST", "HEAD", "PATCH", "DELETE", "OPTIONS", "PURGE"] {
            let (head, _, _) = try self.head("\(method) / HTTP/1.0\r\n\r\n")
            #expect(head.method.rawValue == method)
            #expect(head.version == .http1_0)
            #expect(!head.isKeepAlive)
        }
        // Empty lines before the request line are skipped.
        let (head, framing, consumed) = try self.head("\r\n\r\nGET /a HTTP/1.1\r\nConnection: close\r\n\r\n")
        #expect(head.uri == "/a")
        #expect(!head.isKeepAlive)
        #expect(framing == .none)
        #expect(consumed == 42)
    }

    @Test func partialHeadsWaitAndOversizedOnesAreRefused() {
        let full = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        for cut in 0..<full.utf8.count {
            let prefix = String(decoding: Array(full.utf8)[..<cut], as: UTF8.self)
            guard case .incomplete = self.parse(prefix) else {
                Issue.record("prefix of \(cut) bytes is not incomplete")
                continue
            }
        }
        #expect(self.failure(full, limit: 20) == .headerOverflow)
        #expect(self.failure("GET / HTTP/1.1\r\nX: " + String(repeating: "y", count: 100), limit: 64) == .headerOverflow)
        // Exactly at the limit is fine.
        guard case .complete = self.parse(full, limit: full.utf8.count) else {
            Issue.record("a head of exactly the limit was refused")
            return
        }
    }

    @Test func framing() throws {
        #expect(try self.head("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").1 == .chunked)
        #expect(try self.head("POST / HTTP/1.1\r\nTransfer-Encoding:  Chunked \r\n\r\n").1 == .chunked)
        #expect(try self.head("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").1 == .none)
        #expect(try self.head("POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n").1 == .length(5))
    }

    @Test(arguments: [
        ("THIS IS NOT HTTP\r\n\r\n", HTTPParserError.invalidVersion),
        ("GET / HTTP/2.0\r\n\r\n", .invalidVersion),
        ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", .invalidVersion),
        ("GET  / HTTP/1.1\r\n\r\n", .invalidURL),
        ("GET / HTTP/1.1 \r\n\r\n", .invalidVersion),
        ("GET /\u{7F} HTTP/1.1\r\n\r\n", .invalidURL),
        ("GET /é HTTP/1.1\r\n\r\n", .invalidURL),
        ("G(T / HTTP/1.1\r\n\r\n", .invalidURL),
        ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", .invalidHeaderToken),
        ("GET / HTTP/1.1\r\n: a\r\n\r\n", .invalidHeaderToken),
        ("GET / HTTP/1.1\r\nNoColon\r\n\r\n", .invalidHeaderToken),
        ("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", .invalidHeaderToken),
        ("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", .invalidHeaderToken),
        ("GET / HTTP/1.1\r\nA: b\u{0}c\r\n\r\n", .invalidHeaderToken),
        ("GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", .invalidContentLength),
        ("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", .invalidContentLength),
        ("GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", .invalidContentLength),
        ("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", .invalidContentLength),
        ("GET / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", .invalidContentLength),
        ("\r\rGET / HTTP/1.1\r\n\r\n", .lfExpected),
        ("\nGET / HTTP/1.1\r\n\r\n", .lfExpected),
        ("GET / HTTP/1.1\n\r\n", .lfExpected),
        ("GET / HTTP/1.1\r\nA: b\n\r\n", .lfExpected),
        ("GET / HTTP/1.1\r\nA: b\r\n\n", .lfExpected),
    ])
    func refusedHeads(text: String, error: HTTPParserError) {
        #expect(self.failure(text) == error, "\(text.debugDescription)")
    }

    @Test func chunkLines() {
        func chunk(_ text: String) -> HTTPChunkLineParse {
            Array(text.utf8).withUnsafeBytes { HTTPRequestParser.parseChunkLine($0, limit: 64) }
        }
        #expect(chunk("1a\r\n") == .size(26, consumed: 4))
        #expect(chunk("FF;ext=1;b\r\nxx") == .size(255, consumed: 12))
        #expect(chunk("0 \r\n") == .size(0, consumed: 4))
        #expect(chunk("5\n") == .failed)
        #expect(chunk("1a") == .incomplete)
        #expect(chunk("\r\n") == .failed)
        #expect(chunk("g\r\n") == .failed)
        #expect(chunk("1 2\r\n") == .failed)
        #expect(chunk("fffffffffffffffff\r\n") == .failed)
        #expect(chunk(String(repeating: "0", count: 70)) == .failed)
    }

    // MARK: Codec

    /// Records what the codec delivers, one line per part.
    private final class Recorder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        var parts: [String] = []
        var errors: [HTTPParserError] = []
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch self.unwrapInboundIn(data) {
            case .head(let head): self.parts.append("head \(head.method.rawValue) \(head.uri)")
            case .body(let body): self.parts.append("body \(String(buffer: body))")
            case .end: self.parts.append("end")
            }
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            if let error = error as? HTTPParserError { self.errors.append(error) }
        }
    }

    private func channel(maxHeadBytes: Int = 1024) throws -> (EmbeddedChannel, Recorder) {
        let recorder = Recorder()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(HTTP1ServerCodec(maxHeadBytes: maxHeadBytes, maxBufferedBytes: 64))
        try channel.pipeline.syncOperations.addHandler(recorder)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        return (channel, recorder)
    }

    private func send(_ channel: EmbeddedChannel, _ text: String) throws {
        try channel.writeInbound(ByteBuffer(string: text))
    }

    /// What the codec wrote, as one string per buffer.
    private func written(_ channel: EmbeddedChannel) throws -> [String] {
        var out: [String] = []
        while let data = try channel.readOutbound(as: IOData.self) {
            guard case .byteBuffer(let buffer) = data else { throw TestClientError(description: "file region") }
            out.append(String(buffer: buffer))
        }
        return out
    }

    private func respond(_ channel: EmbeddedChannel, status: HTTPResponseStatus = .ok, headers: HTTPHeaders,
                         body: String?, version: HTTPVersion = .http1_1) throws {
        // As HTTPConnectionHandler writes: head and body, then the end with a flush.
        let pipeline = channel.pipeline.syncOperations
        pipeline.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        if let body { pipeline.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil) }
        pipeline.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
    }

    @Test func aRequestSplitAcrossReadsIsDeliveredOnceWhole() throws {
        let (channel, recorder) = try self.channel()
        let text = "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
        for byte in text.utf8 { try channel.writeInbound(ByteBuffer(bytes: [byte])) }
        #expect(recorder.parts == ["head POST /a", "body h", "body e", "body l", "body l", "body o", "end"])
        #expect(recorder.errors.isEmpty)
    }

    @Test func chunkedBodiesAreDecodedAndTrailersDropped() throws {
        let (channel, recorder) = try self.channel()
        try self.send(channel, "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
        #expect(recorder.parts == ["head POST /c", "body hello", "body  world", "end"])
        try self.send(channel, "GET /next HTTP/1.1\r\n\r\n")
        #expect(recorder.parts.count == 4)  // waits for the first response
        try self.respond(channel, headers: ["content-length": "0"], body: nil)
        channel.embeddedEventLoop.run()
        #expect(recorder.parts.suffix(2) == ["head GET /next", "end"])
    }

    @Test func aBadChunkIsOneErrorAndTheRestIsDropped() throws {
        let (channel, recorder) = try self.channel()
        try self.send(channel, "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n")
        #expect(recorder.parts == ["head POST /c", "body abc"])
        #expect(recorder.errors == [.invalidChunkSize])
        try self.send(channel, "GET / HTTP/1.1\r\n\r\n")
        #expect(recorder.parts.count == 2)
        #expect(recorder.errors.count == 1)
    }

    @Test func pipelinedRequestsWaitForTheResponseBeforeThem() throws {
        let (channel, recorder) = try self.channel()
        try self.send(channel, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n")
        #expect(recorder.parts == ["head GET /1", "end"])
        try self.respond(channel, headers: ["content-length": "1"], body: "a")
        // The next request is delivered from the event loop, after the answer is written.
        channel.embeddedEventLoop.run()
        #expect(recorder.parts == ["head GET /1", "end", "head GET /2", "end"])
        try self.respond(channel, headers: ["content-length": "1"], body: "b")
        channel.embeddedEventLoop.run()
        #expect(recorder.parts.count == 6)
        #expect(try self.written(channel) == ["HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na", "HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nb"])
    }

    @Test func oneBufferPerResponseWithChunkedFramingWhenNoLengthIsGiven() throws {
        let (channel, _) = try self.channel()
        try self.send(channel, "GET /s HTTP/1.1\r\n\r\n")
        let pipeline = channel.pipeline.syncOperations
        pipeline.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["x-a": "1"]))), promise: nil)
        pipeline.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: "hello")))), promise: nil)
        pipeline.flush()
        pipeline.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: "0123456789abcdef!")))), promise: nil)
        pipeline.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
        #expect(try self.written(channel) == [
            "HTTP/1.1 200 OK\r\nx-a: 1\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n",
            "11\r\n0123456789abcdef!\r\n0\r\n\r\n",
        ])
    }

    @Test func headRequestsAndBodylessStatusesGetNoBody() throws {
        let (channel, recorder) = try self.channel()
        try self.send(channel, "HEAD /h HTTP/1.1\r\n\r\n")
        try self.respond(channel, headers: ["content-length": "5"], body: "hello")
        try self.send(channel, "HEAD /h HTTP/1.1\r\n\r\n")
        try self.respond(channel, headers: [:], body: "hello")
        try self.send(channel, "GET /n HTTP/1.1\r\n\r\n")
        try self.respond(channel, status: .noContent, headers: [:], body: nil)
        #expect(recorder.parts.count == 6)
        #expect(try self.written(channel) == [
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n",
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
            "HTTP/1.1 204 No Content\r\n\r\n",
        ])
    }

    @Test func anInterimAnswerGoesOutAloneAndTheResponseFollows() throws {
        let (channel, _) = try self.channel()
        try self.send(channel, "POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .continue)))
        try self.send(channel, "ok")
        try self.respond(channel, status: .created, headers: ["content-length": "0"], body: nil)
        #expect(try self.written(channel) == ["HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n"])
    }

    @Test func aClosingResponseEndsInputAndHTTP10BodiesAreCloseDelimited() throws {
        let (channel, recorder) = try self.channel()
        try self.send(channel, "GET /1 HTTP/1.0\r\n\r\nGET /2 HTTP/1.0\r\n\r\n")
        try self.respond(channel, headers: [:], body: "x", version: .http1_0)
        channel.embeddedEventLoop.run()
        #expect(recorder.parts == ["head GET /1", "end"])  // /2 is never delivered
        #expect(try self.written(channel) == ["HTTP/1.0 200 OK\r\n\r\nx"])
    }

    @Test func readsPauseOnlyWhileTooMuchPipelinedInputWaits() throws {
        let (channel, recorder) = try self.channel()
        final class ReadCounter: ChannelOutboundHandler {
            typealias OutboundIn = Never
            var reads = 0
            func read(context: ChannelHandlerContext) {
                self.reads += 1
                context.read()
            }
        }
        let counter = ReadCounter()
        try channel.pipeline.syncOperations.addHandler(counter, position: .first)
        try self.send(channel, "GET /1 HTTP/1.1\r\n\r\n")
        channel.read()
        #expect(counter.reads == 1)  // a request in flight, little buffered: reads go on
        try self.send(channel, "GET /2 HTTP/1.1\r\nX-Pad: \(String(repeating: "p", count: 80))\r\n\r\n")
        channel.read()
        #expect(counter.reads == 1)  // over 64 bytes wait: held
        try self.respond(channel, headers: ["content-length": "0"], body: nil)
        #expect(counter.reads == 2)  // the held read goes out with the answer
        channel.embeddedEventLoop.run()
        #expect(recorder.parts == ["head GET /1", "end", "head GET /2", "end"])
    }

    @Test func quiescingClosesAnIdleConnectionAtOnce() throws {
        let (channel, _) = try self.channel()
        try self.send(channel, "GET /1 HTTP/1.1\r\n\r\n")
        try self.respond(channel, headers: ["content-length": "0"], body: nil)
        try self.send(channel, "GET /2 HTT")  // a partial head counts as idle
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(!channel.isActive)
    }

    @Test func quiescingMidRequestAnswersWithCloseThenCloses() throws {
        let (channel, recorder) = try self.channel()
        try self.send(channel, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n")
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(channel.isActive)
        try self.respond(channel, headers: ["content-length": "0", "connection": "keep-alive"], body: nil)
        channel.embeddedEventLoop.run()
        #expect(try self.written(channel) == ["HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"])
        #expect(!channel.isActive)
        #expect(recorder.parts == ["head GET /1", "end"])
    }
}
