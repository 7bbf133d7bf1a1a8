import NIOCore

/// Writes the body of a streamed response (see ``HTTPResponseStream``).
///
/// All methods may be called from any thread; calls made on the connection's ``eventLoop`` run at
/// once, others hop to it. Writes after ``finish()`` or after the connection closed are dropped.
public final class HTTPBodyStreamWriter: Sendable {
    /// Where the writes go: the connection's HTTP handler (through the codec), or, for a stream
    /// that took the connection over, the handler that frames chunks itself.
    private enum Target: Sendable {
        case connection(NIOLoopBound<HTTPConnectionHandler>, streamID: UInt64)
        case takenOver(NIOLoopBound<HTTPStreamHandler>)
    }

    /// The event loop of the connection; per-loop stream registries should live here.
    public let eventLoop: any EventLoop
    /// The connection's channel (for its `closeFuture`, addresses, ...).
    public let channel: any Channel
    private let target: Target

    init(handler: HTTPConnectionHandler, channel: any Channel, streamID: UInt64) {
        self.eventLoop = channel.eventLoop
        self.channel = channel
        self.target = .connection(NIOLoopBound(handler, eventLoop: channel.eventLoop), streamID: streamID)
    }

    init(streamHandler: HTTPStreamHandler, channel: any Channel) {
        self.eventLoop = channel.eventLoop
        self.channel = channel
        self.target = .takenOver(NIOLoopBound(streamHandler, eventLoop: channel.eventLoop))
    }

    /// Whether the channel accepts more writes without exceeding its write buffer high-water mark.
    public var isWritable: Bool { self.channel.isWritable }

    /// Completes when the connection is closed (client gone or server shutdown).
    public var closeFuture: EventLoopFuture<Void> { self.channel.closeFuture }

    /// A buffer for one ``write(_:flush:)`` of about `capacity` bytes. Writing buffers made here
    /// saves a copy when the connection frames the body itself (room for the framing is kept).
    public func makeBuffer(capacity: Int) -> ByteBuffer {
        switch self.target {
        case .connection:
            return self.channel.allocator.buffer(capacity: capacity)
        case .takenOver(let handler):
            return handler.value.makeBuffer(allocator: self.channel.allocator, capacity: capacity)
        }
    }

    /// Writes one chunk of the body; `flush: false` lets a caller batch several writes and flush once.
    public func write(_ buffer: consuming ByteBuffer, flush: Bool = true) {
        // On the connection's loop (the SSE hub's case) call straight through: no closure to
        // allocate per frame.
        if self.eventLoop.inEventLoop {
            switch self.target {
            case .connection(let handler, let streamID):
                handler.value.streamWrite(streamID: streamID, buffer, flush: flush)
            case .takenOver(let handler):
                handler.value.write(consume buffer, flush: flush)
            }
            return
        }
        let buffer = consume buffer
        self.onLoop { target in
            switch target {
            case .connection(let handler, let streamID): handler.value.streamWrite(streamID: streamID, buffer, flush: flush)
            case .takenOver(let handler): handler.value.write(buffer, flush: flush)
            }
        }
    }

    /// The socket of a stream that took the connection over, for direct writes while nothing
    /// written through this writer is still queued in NIO (see ``HTTPDirectSocket``): its
    /// descriptor and whether writes are framed as chunks. `nil` otherwise. On the loop only.
    var directSocket: (descriptor: Int32, chunked: Bool)? {
        guard case .takenOver(let handler) = self.target else { return nil }
        return handler.value.directSocket
    }

    /// Writes one chunk of the body and flushes, completing `promise` when NIO has written it.
    /// On the loop only.
    func write(_ buffer: ByteBuffer, promise: EventLoopPromise<Void>) {
        switch self.target {
        case .connection(let handler, let streamID):
            handler.value.streamWrite(streamID: streamID, buffer, flush: true)
            promise.succeed(())
        case .takenOver(let handler):
            handler.value.write(buffer, flush: true, promise: promise)
        }
    }

    /// Writes and flushes bytes framed already (the rest of a direct write). On the loop only.
    func writeFramed(_ buffer: ByteBuffer, promise: EventLoopPromise<Void>) {
        guard case .takenOver(let handler) = self.target else {
            promise.fail(ChannelError.operationUnsupported)
            return
        }
        handler.value.writeFramed(buffer, promise: promise)
    }

    /// Flushes written chunks to the socket.
    public func flush() {
        if self.eventLoop.inEventLoop {
            switch self.target {
            case .connection(let handler, let streamID): handler.value.streamFlush(streamID: streamID)
            case .takenOver(let handler): handler.value.flush()
            }
            return
        }
        self.onLoop { target in
            switch target {
            case .connection(let handler, let streamID): handler.value.streamFlush(streamID: streamID)
            case .takenOver(let handler): handler.value.flush()
            }
        }
    }

    /// Ends the body; the connection then serves its next request or closes (always, for a stream
    /// that took the connection over).
    public func finish() {
        self.onLoop { target in
            switch target {
            case .connection(let handler, let streamID): handler.value.streamFinish(streamID: streamID)
            case .takenOver(let handler): handler.value.finish()
            }
        }
    }

    private func onLoop(_ body: @escaping @Sendable (Target) -> Void) {
        if self.eventLoop.inEventLoop {
            body(self.target)
        } else {
            let target = self.target
            self.eventLoop.execute { body(target) }
        }
    }
}
