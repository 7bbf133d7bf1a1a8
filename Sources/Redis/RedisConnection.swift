import Logging
import NIOCore
import NIOPosix

/// One TCP connection to Redis with pipelining: any number of requests in flight, replies in order.
///
/// Thread-safe: it only holds the channel and writes through it.
final class RedisConnection: Sendable {
    let channel: any Channel
    let configuration: RedisConfiguration

    var eventLoop: any EventLoop { channel.eventLoop }
    var isActive: Bool { channel.isActive }
    var closeFuture: EventLoopFuture<Void> { channel.closeFuture }

    private init(channel: any Channel, configuration: RedisConfiguration) {
        self.channel = channel
        self.configuration = configuration
    }

    /// Connects, then sends AUTH and SELECT as configured, all within `connectTimeout`.
    ///
    /// `onPush`, when given, installs a ``RedisPushHandler`` ahead of the reply matcher: pub/sub
    /// messages and (un)subscribe confirmations go to it instead of being matched to requests.
    static func connect(
        configuration: RedisConfiguration,
        eventLoop: any EventLoop,
        logger: Logger,
        onPush: (@Sendable (RedisPushMessage) -> Void)? = nil
    ) -> EventLoopFuture<RedisConnection> {
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RedisReplyDecoder()))
                    if let onPush {
                        try channel.pipeline.syncOperations.addHandler(RedisPushHandler(onPush: onPush))
                    }
                    try channel.pipeline.syncOperations.addHandler(RedisConnectionHandler(logger: logger))
                }
            }
        return bootstrap.connect(host: configuration.host, port: configuration.port)
            .flatMapErrorThrowing { error in
                if let error = error as? RedisError { throw error }
                throw RedisError(
                    code: .unavailable,
                    message: "cannot connect to Redis at \(configuration.host):\(configuration.port): \(error)"
                )
            }
            .flatMap { channel in
                let connection = RedisConnection(channel: channel, configuration: configuration)
                var handshake: [[RedisArgument]] = []
                if let password = configuration.password {
                    if let username = configuration.username {
                        handshake.append(["AUTH", RedisArgument(username), RedisArgument(password)])
                    } else {
                        handshake.append(["AUTH", RedisArgument(password)])
                    }
                }
                if configuration.database != 0 {
                    handshake.append(["SELECT", RedisArgument(configuration.database)])
                }
                guard !handshake.isEmpty else { return channel.eventLoop.makeSucceededFuture(connection) }
                return connection.send(handshake, timeout: configuration.connectTimeout)
                    .flatMapThrowing { replies in
                        if let error = replies.lazy.compactMap(\.serverError).first { throw error }
                        return connection
                    }
                    .flatMapError { error in
                        channel.close(promise: nil)
                        return channel.eventLoop.makeFailedFuture(error)
                    }
            }
    }

    /// Writes commands whose answers arrive as push messages (SUBSCRIBE and friends); no reply slot.
    func sendPush(_ commands: [[RedisArgument]]) -> EventLoopFuture<Void> {
        var buffer = channel.allocator.buffer(capacity: 64)
        for command in commands {
            RedisCommandEncoder.encode(command, into: &buffer)
        }
        let promise = channel.eventLoop.makePromise(of: [RedisValue].self)
        channel.writeAndFlush(RedisRequest(bytes: buffer, count: 0, timeout: .zero, promise: promise), promise: nil)
        return promise.futureResult.map { _ in }
    }

    /// Sends `commands` in one write and flush; the future has one reply per command, in order.
    /// Error replies are values here.
    func send(_ commands: [[RedisArgument]], timeout: TimeAmount) -> EventLoopFuture<[RedisValue]> {
        var size = 0
        for command in commands {
            size += 16
            for arg in command { size += arg.bytes.count + 16 }
        }
        var buffer = channel.allocator.buffer(capacity: size)
        for command in commands {
            RedisCommandEncoder.encode(command, into: &buffer)
        }
        let promise = channel.eventLoop.makePromise(of: [RedisValue].self)
        let request = RedisRequest(bytes: buffer, count: commands.count, timeout: timeout, promise: promise)
        channel.writeAndFlush(request).whenFailure { error in
            // Usually already failed by the handler; a second completion is ignored.
            promise.fail(error as? RedisError ?? RedisError(code: .connectionClosed, message: "write to Redis failed: \(error)"))
        }
        return promise.futureResult
    }

    /// Closes the channel.
    func close() -> EventLoopFuture<Void> {
        channel.close().recover { _ in }
    }
}
