import NIOCore

/// One write to a ``RedisConnectionHandler``: `count` RESP commands already encoded into `bytes`,
/// answered together by `promise` with `count` replies in order.
struct RedisRequest: Sendable {
    var bytes: ByteBuffer
    var count: Int
    var timeout: TimeAmount
    var promise: EventLoopPromise<[RedisValue]>
}
