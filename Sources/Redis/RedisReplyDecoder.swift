import NIOCore

/// A `ByteToMessageDecoder` that parses RESP with hiredis' reader and emits ``RedisValue``s.
///
/// Invalid bytes make `decode` throw a ``RedisError`` with code ``RedisError/Code/protocolError``;
/// the connection handler then closes the channel.
public struct RedisReplyDecoder: ByteToMessageDecoder {
    public typealias InboundOut = RedisValue

    private let reader = RedisReplyReader()

    /// A decoder with a fresh reader.
    public init() {}

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let reader = self.reader
        try buffer.withUnsafeReadableBytes { try reader.feed($0) }
        buffer.moveReaderIndex(to: buffer.writerIndex)
        while let value = try reader.next() {
            context.fireChannelRead(Self.wrapInboundOut(value))
        }
        return .needMoreData
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        _ = try decode(context: context, buffer: &buffer)
        return .needMoreData
    }
}
