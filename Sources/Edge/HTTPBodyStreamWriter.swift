import NIOCore

/// Writes the body of a streamed response (see ``HTTPResponseStream``).
///
/// All methods may be called from any thread; calls made on the connection's ``eventLoop`` run at
/// once, others hop to it. Writes after ``finish()`` or after the connection closed are dropped.
public final class HTTPBodyStreamWriter: Sendable {
    /// The event loop of the connection; per-loop stream registries should live here.
    public let eventLoop: any EventLoop
    /// The connection's channel (for its `closeFuture`, addresses, ...).
    public let channel: any Channel
    private let handler: NIOLoopBound<HTTPConnectionHandler>
    private let streamID: UInt64

    init(handler: HTTPConnectionHandler, channel: any Channel, streamID: UInt64) {
        self.eventLoop = channel.eventLoop
        self.channel = channel
        self.handler = NIOLoopBound(handler, eventLoop: channel.eventLoop)
        self.streamID = streamID
    }

    /// Whether the channel accepts more writes without exceeding its write buffer high-water mark.
    public var isWritable: Bool { self.channel.isWritable }

    /// Completes when the connection is closed (client gone or server shutdown).
    public var closeFuture: EventLoopFuture<Void> { self.channel.closeFuture }

    /// Writes one chunk of the body; `flush: false` lets a caller batch several writes and flush once.
    public func write(_ buffer: ByteBuffer, flush: Bool = true) {
        // On the connection's loop (the SSE hub's case) call straight through: no closure to
        // allocate per frame.
        if self.eventLoop.inEventLoop {
            self.handler.value.streamWrite(streamID: self.streamID, buffer, flush: flush)
            return
        }
        let streamID = self.streamID
        self.onLoop { $0.streamWrite(streamID: streamID, buffer, flush: flush) }
    }

    /// Flushes written chunks to the socket.
    public func flush() {
        if self.eventLoop.inEventLoop {
            self.handler.value.streamFlush(streamID: self.streamID)
            return
        }
        let streamID = self.streamID
        self.onLoop { $0.streamFlush(streamID: streamID) }
    }

    /// Ends the body; the connection then serves its next request or closes.
    public func finish() {
        let streamID = self.streamID
        self.onLoop { $0.streamFinish(streamID: streamID) }
    }

    private func onLoop(_ body: @escaping @Sendable (HTTPConnectionHandler) -> Void) {
        if self.eventLoop.inEventLoop {
            body(self.handler.value)
        } else {
            let handler = self.handler
            self.eventLoop.execute { body(handler.value) }
        }
    }
}
