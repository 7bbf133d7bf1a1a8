import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A parsed HTTP/1.x response as a raw client saw it.
struct RawResponse: Sendable {
    var version: String
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        self.headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    var bodyText: String { String(decoding: self.body, as: UTF8.self) }
}

struct TestClientError: Error, CustomStringConvertible {
    var description: String
}

/// A raw TCP client for tests: sends bytes as given, parses responses from what comes back.
final class TestConnection: Sendable {
    private final class Sink: Sendable {
        struct State {
            var bytes: [UInt8] = []
            var closed = false
        }
        let state = Mutex(State())
    }

    private final class CollectingHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let sink: Sink
        init(sink: Sink) { self.sink = sink }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = self.unwrapInboundIn(data)
            self.sink.state.withLock { $0.bytes.append(contentsOf: buffer.readableBytesView) }
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case .some(.inputClosed) = event as? ChannelEvent {
                self.sink.state.withLock { $0.closed = true }
            }
            context.fireUserInboundEventTriggered(event)
        }

        func channelInactive(context: ChannelHandlerContext) {
            self.sink.state.withLock { $0.closed = true }
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            context.close(promise: nil)
        }
    }

    let channel: any Channel
    private let sink: Sink

    private init(channel: any Channel, sink: Sink) {
        self.channel = channel
        self.sink = sink
    }

    /// Connects; with `reading: false` nothing is read from the socket until ``startReading()``
    /// (what arrives waits in the kernel, as for a client busy elsewhere), and the server's FIN
    /// does not close the connection (it may still write).
    static func connect(port: Int, reading: Bool = true) async throws -> TestConnection {
        let sink = Sink()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: reading)
            // Not reading, the client must not close on the server's FIN either (NIO would, on EPOLLRDHUP).
            .channelOption(.allowRemoteHalfClosure, value: !reading)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(CollectingHandler(sink: sink))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        return TestConnection(channel: channel, sink: sink)
    }

    /// Starts reading after a ``connect(port:reading:)`` with `reading: false`.
    func startReading() async throws {
        try await self.channel.setOption(.autoRead, value: true)
    }

    func send(_ text: String) async throws {
        try await self.channel.writeAndFlush(ByteBuffer(string: text))
    }

    func send(bytes: [UInt8]) async throws {
        try await self.channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    var isClosed: Bool { self.sink.state.withLock { $0.closed } }

    /// Reads the next complete response (`bodyless` for answers to `HEAD`).
    func readResponse(timeout: Duration = .seconds(5), bodyless: Bool = false) async throws -> RawResponse {
        let deadline = ContinuousClock.now + timeout
        while true {
            let (parsed, closed) = self.sink.state.withLock { state -> (RawResponse?, Bool) in
                if let (response, used) = TestConnection.parse(state.bytes, bodyless: bodyless) {
                    state.bytes.removeFirst(used)
                    return (response, state.closed)
                }
                return (nil, state.closed)
            }
            if let parsed { return parsed }
            if closed { throw TestClientError(description: "connection closed before a complete response") }
            if ContinuousClock.now > deadline { throw TestClientError(description: "timed out waiting for a response") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Waits until the server closes the connection; returns whether it did within `timeout`.
    func waitForClose(timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !self.isClosed {
            if ContinuousClock.now > deadline { return false }
            try await Task.sleep(for: .milliseconds(5))
        }
        return true
    }

    /// Bytes received and not yet parsed.
    var unparsedBytes: [UInt8] { self.sink.state.withLock { $0.bytes } }

    func close() async {
        try? await self.channel.close()
    }

    /// Parses one response from the front of `bytes`; `nil` when incomplete.
    static func parse(_ bytes: [UInt8], bodyless: Bool) -> (RawResponse, Int)? {
        guard let headEnd = find([13, 10, 13, 10], in: bytes, from: 0) else { return nil }
        let headText = String(decoding: bytes[0..<headEnd], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
        let headers: [(name: String, value: String)] = lines.compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var response = RawResponse(version: String(statusLine[0]), status: status, headers: headers, body: [])
        var index = headEnd + 4
        if bodyless || status == 204 || status == 304 || (100..<200).contains(status) {
            return (response, index)
        }
        if let length = response.header("content-length").flatMap(Int.init) {
            guard bytes.count >= index + length else { return nil }
            response.body = Array(bytes[index..<(index + length)])
            return (response, index + length)
        }
        if response.header("transfer-encoding")?.lowercased() == "chunked" {
            var body: [UInt8] = []
            while true {
                guard let lineEnd = find([13, 10], in: bytes, from: index) else { return nil }
                let sizeText = String(decoding: bytes[index..<lineEnd], as: UTF8.self)
                guard let size = Int(sizeText.split(separator: ";")[0], radix: 16) else { return nil }
                index = lineEnd + 2
                if size == 0 {
                    guard bytes.count >= index + 2 else { return nil }
                    response.body = body
                    return (response, index + 2)
                }
                guard bytes.count >= index + size + 2 else { return nil }
                body.append(contentsOf: bytes[index..<(index + size)])
                index += size + 2
            }
        }
        // Body delimited by the connection closing: not complete until then.
        return nil
    }

    private static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= needle.count else { return nil }
        var index = start
        while index + needle.count <= bytes.count {
            if bytes[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}
