import NIOCore
import NIOEmbedded
import Testing

@testable import Redis

@Suite struct RedisCodecTests {
    private func decode(_ chunks: [String]) throws -> [RedisValue] {
        try decode(chunks.map { Array($0.utf8) })
    }

    private func decode(_ chunks: [[UInt8]]) throws -> [RedisValue] {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RedisReplyDecoder()))
        defer { _ = try? channel.finish() }
        for chunk in chunks {
            try channel.writeInbound(ByteBuffer(bytes: chunk))
        }
        var values: [RedisValue] = []
        while let value = try channel.readInbound(as: RedisValue.self) {
            values.append(value)
        }
        return values
    }

    @Test func decodesEveryReplyType() throws {
        let values = try decode([
            "+OK\r\n-WRONGTYPE Operation against a key\r\n:-42\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n"
        ])
        #expect(values == [
            .simpleString("OK"),
            .error("WRONGTYPE Operation against a key"),
            .integer(-42),
            .bulkString(ByteBuffer(string: "hello")),
            .bulkString(ByteBuffer()),
            .null,
            .null,
            .array([]),
        ])
        #expect(values[1].serverError?.code == .server("WRONGTYPE"))
        #expect(values[2].int == -42)
        #expect(values[3].string == "hello")
        #expect(values[5].isNull)
    }

    @Test func decodesNestedArrays() throws {
        let values = try decode(["*3\r\n:1\r\n*3\r\n$3\r\nfoo\r\n$-1\r\n*1\r\n+x\r\n-ERR bad\r\n"])
        #expect(values == [
            .array([
                .integer(1),
                .array([.bulkString(ByteBuffer(string: "foo")), .null, .array([.simpleString("x")])]),
                .error("ERR bad"),
            ])
        ])
        #expect(values[0].array?[1].array?[0].string == "foo")
    }

    @Test func decodesLargeBulkFedOneByteAtATime() throws {
        let payload = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let wire = Array("$\(payload.count)\r\n".utf8) + payload + Array("\r\n:7\r\n".utf8)
        let values = try decode(wire.map { [$0] })
        #expect(values.count == 2)
        #expect(values.first?.bytes == payload)
        #expect(values.last == .integer(7))
    }

    @Test func binaryBulkIsBinarySafe() throws {
        let values = try decode([[UInt8(ascii: "$"), UInt8(ascii: "3"), 13, 10, 0, 13, 10, 13, 10]])
        #expect(values == [.bulkString(ByteBuffer(bytes: [0, 13, 10]))])
    }

    @Test func protocolErrorThrows() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RedisReplyDecoder()))
        #expect {
            try channel.writeInbound(ByteBuffer(string: "?what\r\n"))
        } throws: { error in
            (error as? RedisError)?.code == .protocolError
        }
        _ = try? channel.finish()
    }

    @Test func encodesCommandsWithHiredis() {
        var buffer = ByteBuffer()
        RedisCommandEncoder.encode(["SET", "key", 42, RedisArgument(bytes: [0, 13, 10]), ""], into: &buffer)
        #expect(String(buffer: buffer) == "*5\r\n$3\r\nSET\r\n$3\r\nkey\r\n$2\r\n42\r\n$3\r\n\0\r\n\r\n$0\r\n\r\n")
        var empty = ByteBuffer()
        RedisCommandEncoder.encode(["", ""], into: &empty)
        #expect(String(buffer: empty) == "*2\r\n$0\r\n\r\n$0\r\n\r\n")
    }

    @Test func argumentConversions() {
        #expect(RedisArgument(1.5).description == "1.5")
        #expect(RedisArgument(Double.infinity).description == "inf")
        #expect(RedisArgument(-7).description == "-7")
        #expect(RedisArgument(ByteBuffer(string: "bb")).bytes == Array("bb".utf8))
    }

    @Test func sha1MatchesKnownDigests() {
        #expect(SHA1.hexDigest(of: Array("abc".utf8)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(SHA1.hexDigest(of: []) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(SHA1.hexDigest(of: long) == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(RedisScript(source: "return 1").sha1 == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db")
    }

    @Test func backoffGrowsAndIsCapped() {
        let backoff = RedisBackoff(minimum: .milliseconds(50), maximum: .seconds(2))
        #expect(backoff.delay(attempt: 0, random: 1) == .milliseconds(50))
        #expect(backoff.delay(attempt: 3, random: 1) == .milliseconds(400))
        #expect(backoff.delay(attempt: 60, random: 1) == .seconds(2))
        #expect(backoff.delay(attempt: 60, random: 0) == .seconds(1))
    }

    /// A timed-out request keeps its slot: its late reply is dropped, the next request gets its own.
    @Test func timedOutReplyIsNeverMisattributed() throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RedisReplyDecoder()))
        try channel.pipeline.syncOperations.addHandler(RedisConnectionHandler(logger: TestSupport.logger))

        func request(_ args: [RedisArgument], timeout: TimeAmount) -> EventLoopFuture<[RedisValue]> {
            var bytes = ByteBuffer()
            RedisCommandEncoder.encode(args, into: &bytes)
            let promise = loop.makePromise(of: [RedisValue].self)
            channel.writeAndFlush(RedisRequest(bytes: bytes, count: 1, timeout: timeout, promise: promise), promise: nil)
            return promise.futureResult
        }

        let slow = request(["BLPOP", "k", "2"], timeout: .milliseconds(200))
        loop.advanceTime(by: .milliseconds(250))
        let slowResult = ResultBox<Result<[RedisValue], any Error>>()
        slow.whenComplete { slowResult.value = $0 }
        #expect(throws: RedisError.self) { try slowResult.value?.get() }
        if case .failure(let error as RedisError) = slowResult.value { #expect(error.code == .timeout) }

        let next = request(["ECHO", "mine"], timeout: .seconds(5))
        try channel.writeInbound(ByteBuffer(string: "*-1\r\n$4\r\nmine\r\n"))
        let nextResult = ResultBox<[RedisValue]>()
        next.whenSuccess { nextResult.value = $0 }
        #expect(nextResult.value == [.bulkString(ByteBuffer(string: "mine"))])

        // Closing fails whatever is still in flight.
        let pending = request(["PING"], timeout: .seconds(5))
        let pendingError = ResultBox<RedisError>()
        pending.whenFailure { pendingError.value = $0 as? RedisError }
        _ = try? channel.finish()
        #expect(pendingError.value?.code == .connectionClosed)
    }

    /// Garbage from the server fails what is in flight with `.protocolError` and closes the channel.
    @Test func protocolErrorFailsPendingAndCloses() throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RedisReplyDecoder()))
        try channel.pipeline.syncOperations.addHandler(RedisConnectionHandler(logger: TestSupport.logger))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        var bytes = ByteBuffer()
        RedisCommandEncoder.encode(["PING"], into: &bytes)
        let promise = loop.makePromise(of: [RedisValue].self)
        channel.writeAndFlush(RedisRequest(bytes: bytes, count: 1, timeout: .seconds(5), promise: promise), promise: nil)
        let failure = ResultBox<RedisError>()
        promise.futureResult.whenFailure { failure.value = $0 as? RedisError }
        _ = try? channel.writeInbound(ByteBuffer(string: "!garbage\r\n"))
        loop.run()
        #expect(failure.value?.code == .protocolError)
        #expect(!channel.isActive)
    }
}

/// Holds a callback's result in the single-threaded EmbeddedEventLoop tests.
// @unchecked Sendable: only touched from the test's thread, which also runs the EmbeddedEventLoop.
private final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}
