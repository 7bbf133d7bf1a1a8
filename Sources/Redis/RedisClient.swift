import Logging
import NIOCore
import Synchronization

/// The entry point: a small pool of pipelined Redis connections.
///
/// Connections connect lazily on first use and reconnect with exponential backoff after a loss.
/// While a connection waits to reconnect, commands routed to it fail at once with
/// ``RedisError/Code/unavailable`` rather than hang (connected connections are preferred).
public final class RedisClient: Sendable {
    /// The configuration the client was made with.
    public let configuration: RedisConfiguration
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let metrics: RedisMetrics
    private let slots: [RedisPoolSlot]
    private let nextSlot = Atomic<Int>(0)

    /// A client for `configuration`; nothing connects until the first command.
    public init(configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        let metrics = RedisMetrics()
        self.metrics = metrics
        self.slots = (0..<max(1, configuration.poolSize)).map { index in
            RedisPoolSlot(index: index, eventLoop: eventLoopGroup.next(), configuration: configuration, logger: logger, metrics: metrics)
        }
    }

    /// Sends `PING` and checks for `PONG`.
    public func ping() async throws {
        let reply = try await send(["PING"])
        guard reply.string == "PONG" else {
            throw RedisError(code: .protocolError, message: "unexpected PING reply \(reply)")
        }
    }

    /// Sends one command (name first) and returns its reply.
    ///
    /// An error reply is thrown as ``RedisError`` with code `.server(prefix)`, e.g.
    /// `.server("WRONGTYPE")`.
    public func send(_ args: RedisArgument...) async throws -> RedisValue {
        try await send(args)
    }

    /// Sends one command (name first) and returns its reply; `timeout` overrides
    /// ``RedisConfiguration/commandTimeout``. Error replies are thrown.
    public func send(_ args: [RedisArgument], timeout: TimeAmount? = nil) async throws -> RedisValue {
        try await sendFuture(args, timeout: timeout).get()
    }

    /// ``send(_:timeout:)`` for callers on an event loop: no task, the reply completes the future
    /// (on the event loop of the connection it went through). Error replies fail it.
    public func sendFuture(_ args: [RedisArgument], timeout: TimeAmount? = nil) -> EventLoopFuture<RedisValue> {
        let metrics = self.metrics
        return execute([args], timeout: timeout).flatMapThrowing { replies in
            let reply = replies[0]
            if case .error(let message) = reply {
                metrics.commandErrors.increment()
                throw RedisError(serverMessage: message)
            }
            return reply
        }
    }

    /// Sends many commands in one write on one connection and returns their replies in order.
    ///
    /// Error replies are kept as ``RedisValue/error(_:)`` values in the result (one failing
    /// command does not hide the others' replies); the call throws only when the batch as a
    /// whole fails (timeout, connection lost, unavailable). The timeout covers the whole batch.
    public func pipeline(_ commands: [[RedisArgument]], timeout: TimeAmount? = nil) async throws -> [RedisValue] {
        guard !commands.isEmpty else { return [] }
        return try await execute(commands, timeout: timeout).get()
    }

    /// Runs a Lua script with `EVALSHA`; on `NOSCRIPT` it sends `SCRIPT LOAD` and retries once.
    /// Error replies are thrown as with ``send(_:timeout:)``.
    public func eval(
        _ script: RedisScript,
        keys: [RedisArgument] = [],
        args: [RedisArgument] = [],
        timeout: TimeAmount? = nil
    ) async throws -> RedisValue {
        try await evalFuture(script, keys: keys, args: args, timeout: timeout).get()
    }

    /// ``eval(_:keys:args:timeout:)`` for callers on an event loop: no task.
    public func evalFuture(
        _ script: RedisScript,
        keys: [RedisArgument] = [],
        args: [RedisArgument] = [],
        timeout: TimeAmount? = nil
    ) -> EventLoopFuture<RedisValue> {
        var built: [RedisArgument] = ["EVALSHA", RedisArgument(script.sha1), RedisArgument(keys.count)]
        built.reserveCapacity(3 + keys.count + args.count)
        built += keys
        built += args
        let command = built
        return sendFuture(command, timeout: timeout).flatMapError { error in
            guard let redisError = error as? RedisError, redisError.code == .server("NOSCRIPT") else {
                return self.failedFuture(error)
            }
            self.logger.debug("redis: loading script", metadata: ["redis.script": "\(script.sha1)"])
            return self.sendFuture(["SCRIPT", "LOAD", RedisArgument(script.source)], timeout: timeout)
                .flatMap { loaded in
                    guard loaded.string == script.sha1 else {
                        return self.failedFuture(RedisError(
                            code: .protocolError, message: "SCRIPT LOAD returned \(loaded), expected \(script.sha1)"))
                    }
                    return self.sendFuture(command, timeout: timeout)
                }
        }
    }

    /// `PUBLISH channel message`; returns how many subscribers received it.
    @discardableResult
    public func publish(channel: String, message: RedisArgument) async throws -> Int {
        try await send("PUBLISH", RedisArgument(channel), message).int ?? 0
    }

    /// A new subscriber with its own dedicated connection to the same server.
    public func makeSubscriber() -> RedisSubscriber {
        RedisSubscriber(configuration: configuration, eventLoop: eventLoopGroup.next(), logger: logger, metrics: metrics)
    }

    /// Closes every connection gracefully (in-flight commands get their replies first). Commands
    /// sent afterwards fail with ``RedisError/Code/clientClosed``.
    public func close() async {
        await withTaskGroup(of: Void.self) { group in
            for slot in slots {
                group.addTask { await slot.close() }
            }
        }
    }

    private func pickSlot() -> RedisPoolSlot {
        let count = slots.count
        let start = nextSlot.wrappingAdd(1, ordering: .relaxed).oldValue & Int.max
        for offset in 0..<count {
            let slot = slots[(start &+ offset) % count]
            if slot.isConnected { return slot }
        }
        return slots[start % count]
    }

    private func execute(_ commands: [[RedisArgument]], timeout: TimeAmount?) -> EventLoopFuture<[RedisValue]> {
        let timeout = timeout ?? configuration.commandTimeout
        let slot = pickSlot()
        let future: EventLoopFuture<[RedisValue]>
        switch slot.acquire() {
        case .ready(let connection):
            future = connection.send(commands, timeout: timeout)
        case .pending(let connecting):
            future = connecting.flatMap { $0.send(commands, timeout: timeout) }
        case .failed(let error):
            metrics.commandErrors.increment(by: commands.count)
            return slot.eventLoop.makeFailedFuture(error)
        }
        metrics.commands.increment(by: commands.count)
        let metrics = self.metrics
        future.whenFailure { _ in metrics.commandErrors.increment(by: commands.count) }
        return future
    }

    private func failedFuture<Value>(_ error: any Error) -> EventLoopFuture<Value> {
        slots[0].eventLoop.makeFailedFuture(error)
    }
}
