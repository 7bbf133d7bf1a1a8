import DequeModule
import Logging
import NIOCore

/// Matches replies to pipelined requests in order.
///
/// Each written ``RedisRequest`` takes one slot in a queue; replies fill the slot at the head.
/// A request that times out is failed with ``RedisError/Code/timeout`` but keeps its slot
/// (marked abandoned), so its late replies are consumed and dropped, never given to the next
/// request. When the channel goes inactive every pending request fails.
final class RedisConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = RedisValue
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        var id: UInt64
        var remaining: Int
        var values: [RedisValue]
        /// `nil` once the request was failed (timeout): its replies are dropped.
        var promise: EventLoopPromise<[RedisValue]>?
        var timeoutTask: Scheduled<Void>?
    }

    private var queue = Deque<Pending>()
    private var nextID: UInt64 = 0
    /// Set once the channel is closing or closed: new requests fail with it at once.
    private var failure: RedisError?
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let failure {
            request.promise.fail(failure)
            promise?.fail(failure)
            return
        }
        guard request.count > 0 else {
            // Commands whose answers are push messages (SUBSCRIBE): no slot, done once written.
            let written = promise ?? context.eventLoop.makePromise()
            written.futureResult.map { [] }.cascade(to: request.promise)
            context.write(wrapOutboundOut(request.bytes), promise: written)
            return
        }
        let id = nextID
        nextID &+= 1
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let timeoutTask = context.eventLoop.scheduleTask(in: request.timeout) {
            bound.value.timeoutFired(id: id)
        }
        var values: [RedisValue] = []
        values.reserveCapacity(request.count)
        queue.append(Pending(id: id, remaining: request.count, values: values, promise: request.promise, timeoutTask: timeoutTask))
        context.write(wrapOutboundOut(request.bytes), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = unwrapInboundIn(data)
        guard !queue.isEmpty else {
            logger.error("redis: reply without a pending command; closing", metadata: ["redis.reply": "\(value)"])
            failAll(RedisError(code: .protocolError, message: "reply without a pending command"), context: context)
            context.close(promise: nil)
            return
        }
        queue[0].remaining -= 1
        if queue[0].promise != nil {
            queue[0].values.append(value)
        }
        if queue[0].remaining == 0 {
            let done = queue.removeFirst()
            done.timeoutTask?.cancel()
            done.promise?.succeed(done.values)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(failure ?? RedisError(code: .connectionClosed, message: "connection to Redis closed"), context: context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let redisError = (error as? RedisError)
            ?? RedisError(code: .connectionClosed, message: "connection to Redis failed: \(error)")
        logger.debug("redis: connection error; closing", metadata: ["redis.error": "\(redisError)"])
        failAll(redisError, context: context)
        context.close(promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        failAll(failure ?? RedisError(code: .connectionClosed, message: "connection to Redis closed"), context: context)
    }

    private func failAll(_ error: RedisError, context: ChannelHandlerContext) {
        if failure == nil { failure = error }
        let pending = queue
        queue.removeAll()
        for entry in pending {
            entry.timeoutTask?.cancel()
            entry.promise?.fail(error)
        }
    }

    private func timeoutFired(id: UInt64) {
        // ids are increasing along the queue; timeouts are rare, a scan is fine.
        guard let index = queue.firstIndex(where: { $0.id == id }) else { return }
        guard let promise = queue[index].promise else { return }
        queue[index].promise = nil
        queue[index].values = []
        queue[index].timeoutTask = nil
        logger.debug("redis: command timed out; its reply will be dropped")
        promise.fail(RedisError(code: .timeout, message: "Redis did not answer in time"))
    }
}
