import Foundation
import Inventory
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import Waitroom

/// Carries `CombinerPeers` requests between the worker processes of one machine: each worker
/// listens on a Unix socket of its own (`<directory>/inventory-<index>.sock`, the directory made
/// by the supervisor), and keeps one connection to each other worker, opened when first needed
/// and again after it broke.
///
/// A frame is a 4-byte big-endian length, then an 8-byte request id, then the JSON text; the
/// answer carries the id of its request (answers come back in the order batches finish).
/// A request that gets no answer in `timeout` fails, and the sender runs the operation itself.
final class CombinerTransport: Sendable {
    struct Unreachable: Error, CustomStringConvertible {
        let description: String
    }

    static func socketPath(directory: String, index: Int) -> String {
        (directory as NSString).appendingPathComponent("inventory-\(index).sock")
    }

    private let directory: String
    private let group: any EventLoopGroup
    private let timeout: TimeAmount
    private let connections = Mutex<[Int: EventLoopFuture<ClientConnection>]>([:])

    init(directory: String, group: any EventLoopGroup, timeout: TimeAmount) {
        self.directory = directory
        self.group = group
        self.timeout = timeout
    }

    // MARK: Serving

    /// Listens for the other workers' requests and answers each with `serve`.
    func listen(index: Int, serve: @escaping @Sendable (String) async -> String) async throws -> any Channel {
        let path = Self.socketPath(directory: directory, index: index)
        return try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(ServerHandler(serve: serve))
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true)
            .get()
    }

    private final class ServerHandler: ChannelInboundHandler {
        typealias InboundIn = Frame
        let serve: @Sendable (String) async -> String
        private var writer: FrameWriter!
        /// The requests' tasks run on the connection's loop: no pool thread wakes per request,
        /// and the answer is written from where the task ends.
        private var executor: EventLoopTaskExecutor!

        init(serve: @escaping @Sendable (String) async -> String) { self.serve = serve }

        func handlerAdded(context: ChannelHandlerContext) {
            writer = FrameWriter(channel: context.channel)
            executor = EventLoopTaskExecutor(eventLoop: context.eventLoop)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            let bound = NIOLoopBound(writer!, eventLoop: context.eventLoop)
            let loop = context.eventLoop
            let serve = self.serve
            Task(executorPreference: executor) {
                let answer = await serve(frame.text)
                loop.execute { bound.value.write(Frame(id: frame.id, text: answer)) }
            }
        }
    }

    /// Writes frames on the channel's loop and flushes once for all the frames written in the
    /// same loop turn (the answers of one batch finish together: one `write` for all of them).
    final class FrameWriter {
        private let channel: any Channel
        private var flushPending = false

        init(channel: any Channel) { self.channel = channel }

        func write(_ frame: Frame) {
            channel.write(frame.encoded(allocator: channel.allocator), promise: nil)
            guard !flushPending else { return }
            flushPending = true
            channel.eventLoop.assumeIsolated().execute {
                self.flushPending = false
                self.channel.flush()
            }
        }
    }

    // MARK: Sending

    /// Sends `request` to worker `process` and returns its answer.
    func send(to process: Int, _ request: String) async throws -> String {
        let connection = try await connection(to: process).get()
        return try await connection.request(request, timeout: timeout)
    }

    private func connection(to process: Int) -> EventLoopFuture<ClientConnection> {
        connections.withLock { connections in
            if let existing = connections[process] { return existing }
            let path = Self.socketPath(directory: directory, index: process)
            let future = ClientBootstrap(group: group)
                .connectTimeout(.seconds(1))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                        try channel.pipeline.syncOperations.addHandler(ClientConnection.Handler())
                    }
                }
                .connect(unixDomainSocketPath: path)
                .flatMapThrowing { channel in
                    ClientConnection(channel: channel, handler: try channel.pipeline.syncOperations.handler(type: ClientConnection.Handler.self))
                }
            connections[process] = future
            // A failed or closed connection is forgotten, so the next request opens a new one.
            future.whenComplete { [weak self] result in
                switch result {
                case .failure:
                    self?.forget(process, future)
                case .success(let connection):
                    connection.channel.closeFuture.whenComplete { [weak self] _ in self?.forget(process, future) }
                }
            }
            return future
        }
    }

    private func forget(_ process: Int, _ future: EventLoopFuture<ClientConnection>) {
        connections.withLock { connections in
            if connections[process] === future { connections[process] = nil }
        }
    }

    func close() {
        let all = connections.withLock { connections in
            defer { connections = [:] }
            return Array(connections.values)
        }
        for future in all { future.whenSuccess { $0.channel.close(promise: nil) } }
    }

    final class ClientConnection: Sendable {
        let channel: any Channel
        private let handler: NIOLoopBound<Handler>

        init(channel: any Channel, handler: Handler) {
            self.channel = channel
            self.handler = NIOLoopBound(handler, eventLoop: channel.eventLoop)
        }

        func request(_ text: String, timeout: TimeAmount) async throws -> String {
            let loop = channel.eventLoop
            let promise = loop.makePromise(of: String.self)
            loop.execute { [handler, channel] in
                handler.value.send(text, promise: promise, channel: channel, timeout: timeout)
            }
            return try await promise.futureResult.get()
        }

        /// Matches answers to requests by id; fails what is pending when the connection closes.
        final class Handler: ChannelInboundHandler {
            typealias InboundIn = Frame
            private var nextID: UInt64 = 0
            private var writer: FrameWriter!
            private var pending: [UInt64: (promise: EventLoopPromise<String>, timer: Scheduled<Void>)] = [:]

            func handlerAdded(context: ChannelHandlerContext) { writer = FrameWriter(channel: context.channel) }

            func send(_ text: String, promise: EventLoopPromise<String>, channel: any Channel, timeout: TimeAmount) {
                guard channel.isActive else {
                    promise.fail(Unreachable(description: "combiner connection closed"))
                    return
                }
                nextID &+= 1
                let id = nextID
                let timer = channel.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] () -> Void in
                    guard let entry = self?.pending.removeValue(forKey: id) else { return }
                    entry.promise.fail(Unreachable(description: "no answer in \(timeout)"))
                }
                pending[id] = (promise, timer)
                writer.write(Frame(id: id, text: text))
            }

            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                let frame = unwrapInboundIn(data)
                guard let entry = pending.removeValue(forKey: frame.id) else { return }
                entry.timer.cancel()
                entry.promise.succeed(frame.text)
            }

            func channelInactive(context: ChannelHandlerContext) {
                let all = pending
                pending = [:]
                for entry in all.values {
                    entry.timer.cancel()
                    entry.promise.fail(Unreachable(description: "combiner connection closed"))
                }
                context.fireChannelInactive()
            }

            func errorCaught(context: ChannelHandlerContext, error: any Error) {
                context.close(promise: nil)
            }
        }
    }

    // MARK: Framing

    struct Frame: Sendable {
        var id: UInt64
        var text: String

        func encoded(allocator: ByteBufferAllocator) -> ByteBuffer {
            var buffer = allocator.buffer(capacity: 12 + text.utf8.count)
            buffer.writeInteger(UInt32(8 + text.utf8.count))
            buffer.writeInteger(id)
            buffer.writeString(text)
            return buffer
        }
    }

    /// Frames of at most 16 MiB; anything longer is a broken peer and closes the connection.
    struct FrameDecoder: ByteToMessageDecoder {
        typealias InboundOut = Frame
        static let maxLength = 16 << 20

        mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
            guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
            guard length >= 8, Int(length) <= Self.maxLength else { throw Unreachable(description: "bad combiner frame length \(length)") }
            guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
            buffer.moveReaderIndex(forwardBy: 4)
            let id = buffer.readInteger(as: UInt64.self)!
            let text = buffer.readString(length: Int(length) - 8)!
            context.fireChannelRead(NIOAny(Frame(id: id, text: text)))
            return .continue
        }
    }
}

/// Runs a worker's combiner socket for the life of the worker (see `CombinerTransport`).
struct CombinerListener: Service {
    let transport: CombinerTransport
    let index: Int
    let serve: @Sendable (String) async -> String
    let logger: Logger

    func run() async throws {
        let channel: any Channel
        do {
            channel = try await transport.listen(index: index, serve: serve)
        } catch {
            // Without it, the other workers run this worker's lock sets themselves.
            logger.error("combiner socket not opened; other workers will combine on their own", metadata: ["error": "\(error)"])
            try? await gracefulShutdown()
            return
        }
        try? await gracefulShutdown()
        try? await channel.close()
        transport.close()
    }
}
