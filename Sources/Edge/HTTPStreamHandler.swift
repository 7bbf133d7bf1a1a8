import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The only handler of a connection whose streamed response took the connection over (see
/// ``HTTPResponseStream/takesOverConnection``): the HTTP codec, the pipelining and timeout
/// handlers have left, so each body write goes from here straight to the socket, framed as one
/// HTTP/1.1 chunk (or unframed on HTTP/1.0, where the body ends with the connection).
///
/// Input is discarded (the response said `Connection: close`); the stream's hooks hear drain and
/// writability. When the body ends, the terminal chunk is written and the connection closes.
/// Confined to the channel's event loop.
final class HTTPStreamHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Room kept in front of a body buffer made by ``makeBuffer(capacity:)``: the longest chunk
    /// header of a buffer under 4 GiB (8 hex digits and CRLF).
    static let headroom = 10

    private let chunked: Bool
    private let onDrain: (@Sendable (HTTPBodyStreamWriter) -> Void)?
    private let onWritabilityChanged: (@Sendable (HTTPBodyStreamWriter, Bool) -> Void)?
    private let onInactive: (@Sendable (HTTPBodyStreamWriter) -> Void)?
    private var context: ChannelHandlerContext?
    /// The socket's descriptor while the channel is active and this handler is in its pipeline
    /// (see ``directSocket``), looked up on first use; -1 otherwise.
    private var descriptor: Int32 = -1
    private var descriptorLookedUp = false
    private var finished = false
    /// Set once the writer is made; cleared when the handler leaves, which breaks the cycle
    /// writer → handler → writer.
    var writer: HTTPBodyStreamWriter?

    init(stream: HTTPResponseStream, chunked: Bool) {
        self.chunked = chunked
        self.onDrain = stream.onDrain
        self.onWritabilityChanged = stream.onWritabilityChanged
        self.onInactive = stream.onInactive
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.descriptor = -1
        self.descriptorLookedUp = true
        self.writer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        // NIO fires this in close0 right after closing the socket, before anything else runs on
        // the loop: the number may be handed to the next accepted connection.
        self.descriptor = -1
        self.descriptorLookedUp = true
        if let writer = self.writer { self.onInactive?(writer) }
        context.fireChannelInactive()
    }

    // Whatever still arrives (pipelined requests the codec decoded on its way out, or raw bytes)
    // is dropped without looking at its type.
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is EdgeDrainEvent {
            if !self.finished, let writer = self.writer { self.onDrain?(writer) }
            return
        }
        if event is ChannelShouldQuiesceEvent { return }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if !self.finished, let writer = self.writer, let hook = self.onWritabilityChanged {
            hook(writer, context.channel.isWritable)
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    // MARK: Body (called by HTTPBodyStreamWriter on the event loop)

    /// The socket a stream may write to directly, bypassing the pipeline, while nothing it
    /// handed to NIO is still queued (ordering is then the caller's duty): its descriptor and
    /// whether the body is framed in chunks. `nil` once the channel closed, or when the
    /// descriptor could not be found.
    var directSocket: (descriptor: Int32, chunked: Bool)? {
        guard !self.finished, let context = self.context else { return nil }
        if !self.descriptorLookedUp {
            self.descriptorLookedUp = true
            if context.channel.isActive { self.descriptor = HTTPDirectSocket.descriptor(of: context.channel) ?? -1 }
        }
        guard self.descriptor >= 0 else { return nil }
        return (self.descriptor, self.chunked)
    }

    /// A buffer for one write with room in front for the chunk header, so framing copies nothing.
    func makeBuffer(allocator: ByteBufferAllocator, capacity: Int) -> ByteBuffer {
        guard self.chunked else { return allocator.buffer(capacity: capacity) }
        var buffer = allocator.buffer(capacity: capacity + Self.headroom + 2)
        buffer.moveWriterIndex(forwardBy: Self.headroom)
        buffer.moveReaderIndex(forwardBy: Self.headroom)
        return buffer
    }

    func write(_ buffer: consuming ByteBuffer, flush: Bool, promise: EventLoopPromise<Void>? = nil) {
        guard !self.finished, let context = self.context, buffer.readableBytes > 0 else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        // Consumed, not copied: framing in place must not copy the storage on write.
        var framed = consume buffer
        if self.chunked { Self.frame(&framed) }
        if flush {
            context.writeAndFlush(NIOAny(framed), promise: promise)
        } else {
            context.write(NIOAny(framed), promise: promise)
        }
    }

    /// Writes and flushes bytes that are framed already (the rest of a direct write).
    func writeFramed(_ buffer: ByteBuffer, promise: EventLoopPromise<Void>?) {
        guard !self.finished, let context = self.context, buffer.readableBytes > 0 else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context.writeAndFlush(NIOAny(buffer), promise: promise)
    }

    func flush() {
        self.context?.flush()
    }

    func finish() {
        guard !self.finished, let context = self.context else { return }
        self.finished = true
        if self.chunked {
            context.writeAndFlush(NIOAny(ByteBuffer(staticString: "0\r\n\r\n"))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        } else {
            context.flush()
            context.close(promise: nil)
        }
    }

    /// Makes `buffer` one chunk, `<size hex>\r\n<bytes>\r\n`: the header goes into its headroom
    /// when it has some (buffers from ``makeBuffer(allocator:capacity:)``), else into a new buffer.
    static func frame(_ buffer: inout ByteBuffer) {
        var size = buffer.readableBytes
        var header: (UInt64, UInt64) = (0, 0)  // 16 bytes, enough for 8 hex digits + CRLF
        let headerLength = withUnsafeMutableBytes(of: &header) { raw -> Int in
            var index = raw.count
            index -= 1; raw[index] = 0x0A
            index -= 1; raw[index] = 0x0D
            repeat {
                index -= 1
                let digit = UInt8(truncatingIfNeeded: size & 0xF)
                raw[index] = digit < 10 ? 0x30 + digit : 0x57 + digit
                size >>= 4
            } while size > 0
            return raw.count - index
        }
        if buffer.readerIndex >= headerLength {
            buffer.moveReaderIndex(to: buffer.readerIndex - headerLength)
            withUnsafeBytes(of: &header) { raw in
                _ = buffer.setBytes(UnsafeRawBufferPointer(rebasing: raw[(raw.count - headerLength)...]), at: buffer.readerIndex)
            }
        } else {
            var framed = ByteBuffer()
            framed.reserveCapacity(buffer.readableBytes + headerLength + 2)
            withUnsafeBytes(of: &header) { raw in
                _ = framed.writeBytes(UnsafeRawBufferPointer(rebasing: raw[(raw.count - headerLength)...]))
            }
            framed.writeImmutableBuffer(buffer)
            buffer = framed
        }
        buffer.writeStaticString("\r\n")
    }
}
