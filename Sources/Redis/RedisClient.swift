import Logging
import NIOCore

/// The entry point: a small pool of pipelined Redis connections.
///
/// Connections connect lazily on first use and reconnect with exponential backoff after a loss.
/// While a connection waits to reconnect, commands routed to it fail at once with
/// ``RedisError/Code/unavailable`` rather than hang (connected connections are preferred).
/// Commands share the connections pipelined, so a blocking command (`BLPOP`, `XREAD BLOCK`, …)
/// holds up the commands queued behind it on its connection: give such commands a client of
/// their own (pub/sub has its own connection, ``makeSubscriber()``).
///
/// With ``RedisConfiguration/isCluster`` the client speaks to a Redis Cluster: each command goes
/// to the master of its keys' slot (a pool per node), `MOVED`/`ASK` are followed and
/// `TRYAGAIN`/`CLUSTERDOWN` retried; commands whose keys are in different slots are refused with
/// a `CROSSSLOT` error reply without being sent; keyless commands go to any node, `SCRIPT LOAD`,
/// `SCRIPT FLUSH`, `FLUSHDB` and `FLUSHALL` to every master. A pipeline's replies keep the
/// callers' order (commands for different nodes run concurrently; those of one slot in order).
public final class RedisClient: Sendable {
    /// The configuration the client was made with.
    public let configuration: RedisConfiguration
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let metrics: RedisMetrics
    private let backend: Backend

    private enum Backend: Sendable {
        case single(RedisConnectionPool)
        case cluster(RedisClusterRouter)
    }

    /// A client for `configuration`; nothing connects until the first command.
    public init(configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        let metrics = RedisMetrics()
        self.metrics = metrics
        if configuration.isCluster {
            self.backend = .cluster(RedisClusterRouter(configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger, metrics: metrics))
        } else {
            self.backend = .single(RedisConnectionPool(configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger, metrics: metrics))
        }
    }

    /// Cluster mode: what the client did so far (redirects, retries, slot map loads); `nil` for
    /// one server.
    public var clusterStatistics: RedisClusterStatistics? {
        guard case .cluster(let router) = backend else { return nil }
        return router.statistics
    }

    /// Cluster mode: the master that serves `slot` in the client's slot map (`nil` before it is
    /// loaded, or for one server).
    public func clusterNode(forSlot slot: Int) -> RedisEndpoint? {
        guard case .cluster(let router) = backend else { return nil }
        return router.node(forSlot: slot)
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
        sendFuture(args, route: nil, timeout: timeout)
    }

    /// Sends one command (name first) to the server of `key`: in cluster mode the master of its
    /// slot, whatever the command (e.g. `SCAN … MATCH wr:{e}:*` for the keys of one hash tag).
    /// For one server the same as ``send(_:timeout:)``.
    public func send(_ args: [RedisArgument], onNodeOf key: RedisArgument, timeout: TimeAmount? = nil) async throws -> RedisValue {
        try await sendFuture(args, route: .slot(RedisHashSlot.slot(of: key.bytes)), timeout: timeout).get()
    }

    private func sendFuture(_ args: [RedisArgument], route: RedisCommandRoute?, timeout: TimeAmount?) -> EventLoopFuture<RedisValue> {
        let metrics = self.metrics
        return execute([args], routes: route.map { [$0] }, timeout: timeout).flatMapThrowing { replies in
            let reply = replies[0]
            if case .error(let message) = reply {
                metrics.commandErrors.increment()
                throw RedisError(serverMessage: message)
            }
            return reply
        }
    }

    /// Sends many commands in one write on one connection and returns their replies in order
    /// (in cluster mode: one write per node involved; the replies still come in this order).
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

    /// A new subscriber with its own dedicated connection to the same server. In cluster mode it
    /// connects to one node (Redis 7 delivers `PUBLISH` cluster-wide) and moves to another
    /// known node when that one fails.
    public func makeSubscriber() -> RedisSubscriber {
        let nodes: @Sendable () -> [RedisEndpoint]
        switch backend {
        case .single:
            let endpoint = configuration.endpoint
            nodes = { [endpoint] }
        case .cluster(let router):
            nodes = { router.knownNodes() }
        }
        return RedisSubscriber(configuration: configuration, nodes: nodes, eventLoop: eventLoopGroup.next(), logger: logger, metrics: metrics)
    }

    /// Closes every connection gracefully (in-flight commands get their replies first). Commands
    /// sent afterwards fail with ``RedisError/Code/clientClosed``.
    public func close() async {
        switch backend {
        case .single(let pool): await pool.close()
        case .cluster(let router): await router.close()
        }
    }

    private func execute(_ commands: [[RedisArgument]], routes: [RedisCommandRoute]? = nil, timeout: TimeAmount?) -> EventLoopFuture<[RedisValue]> {
        let timeout = timeout ?? configuration.commandTimeout
        switch backend {
        case .single(let pool): return pool.execute(commands, timeout: timeout)
        case .cluster(let router): return router.execute(commands, routes: routes, timeout: timeout)
        }
    }

    private func failedFuture<Value>(_ error: any Error) -> EventLoopFuture<Value> {
        eventLoopGroup.any().makeFailedFuture(error)
    }
}
