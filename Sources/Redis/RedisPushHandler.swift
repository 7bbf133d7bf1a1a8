import NIOCore

/// On a pub/sub connection: hands push messages to a callback and passes every other reply on
/// to the reply matcher behind it.
final class RedisPushHandler: ChannelInboundHandler {
    typealias InboundIn = RedisValue
    typealias InboundOut = RedisValue

    private let onPush: @Sendable (RedisPushMessage) -> Void

    init(onPush: @escaping @Sendable (RedisPushMessage) -> Void) {
        self.onPush = onPush
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = unwrapInboundIn(data)
        if let push = RedisPushMessage(value) {
            onPush(push)
        } else {
            context.fireChannelRead(data)
        }
    }
}
