import Logging
import NIOCore

/// Pub/sub on a dedicated connection of its own.
///
/// Each ``subscribe(to:bufferingPolicy:)`` returns an `AsyncStream` of messages; ending the
/// stream (the consuming task stops iterating, or is cancelled) ends that subscription, and
/// the channel is unsubscribed when nobody listens to it any more. After the connection is lost
/// the subscriber reconnects with backoff and re-issues `SUBSCRIBE`/`PSUBSCRIBE` for every active
/// subscription; messages published while it was disconnected are lost (Redis pub/sub is
/// at-most-once).
///
/// `nodes` lists where it may connect: the one server, or the known nodes of a Redis Cluster
/// (Redis 7 delivers `PUBLISH` to subscribers on every node). After a failed connect or a lost
/// connection it tries the next node of that list.
// @unchecked Sendable: every mutable property is only touched on `eventLoop` (public methods hop
// there with `submit`/`execute`; channel and timer callbacks run there), asserted in debug builds.
public final class RedisSubscriber: @unchecked Sendable {
    private struct Name: Hashable {
        var name: String
        var isPattern: Bool
    }

    private struct Waiter {
        var pending: Set<Name>
        var promise: EventLoopPromise<Void>
    }

    private enum State {
        case idle
        case connecting(attempt: Int)
        case connected(RedisConnection)
        case waitingToReconnect(attempt: Int, lastError: RedisError)
        case closed
    }

    private let configuration: RedisConfiguration
    private let nodes: @Sendable () -> [RedisEndpoint]
    private let eventLoop: any EventLoop
    private let logger: Logger
    private let metrics: RedisMetrics
    private let backoff: RedisBackoff

    private var state: State = .idle
    private var listeners: [Name: [Int: AsyncStream<RedisMessage>.Continuation]] = [:]
    private var waiters: [Int: Waiter] = [:]
    private var nextID = 0
    /// Which of `nodes()` to connect to next (modulo its count); moves on after a failure.
    private var nodeCursor: Int

    init(configuration: RedisConfiguration, nodes: @escaping @Sendable () -> [RedisEndpoint], eventLoop: any EventLoop, logger: Logger, metrics: RedisMetrics) {
        self.configuration = configuration
        self.nodes = nodes
        // Cluster subscribers start on different nodes, so that they do not all land on one.
        self.nodeCursor = configuration.isCluster ? Int.random(in: 0..<1024) : 0
        self.eventLoop = eventLoop
        var logger = logger
        logger[metadataKey: "redis.connection"] = "pubsub"
        self.logger = logger
        self.metrics = metrics
        self.backoff = RedisBackoff(minimum: configuration.reconnectBackoffMin, maximum: configuration.reconnectBackoffMax)
    }

    /// Subscribes to channels (`SUBSCRIBE`); returns once Redis confirmed them.
    ///
    /// Throws ``RedisError/Code/unavailable`` when no connection can be made right now and
    /// ``RedisError/Code/timeout`` when Redis does not confirm within the command timeout.
    public func subscribe(
        to channels: [String],
        bufferingPolicy: AsyncStream<RedisMessage>.Continuation.BufferingPolicy = .unbounded
    ) async throws -> AsyncStream<RedisMessage> {
        try await add(channels.map { Name(name: $0, isPattern: false) }, bufferingPolicy: bufferingPolicy)
    }

    /// Subscribes to glob patterns (`PSUBSCRIBE`); messages carry the matching pattern.
    public func subscribe(
        toPatterns patterns: [String],
        bufferingPolicy: AsyncStream<RedisMessage>.Continuation.BufferingPolicy = .unbounded
    ) async throws -> AsyncStream<RedisMessage> {
        try await add(patterns.map { Name(name: $0, isPattern: true) }, bufferingPolicy: bufferingPolicy)
    }

    /// Ends every subscription stream and closes the connection.
    public func close() async {
        let connection: RedisConnection? = try? await eventLoop.submit { () -> RedisConnection? in
            let previous = self.state
            self.state = .closed
            let listeners = self.listeners
            self.listeners = [:]
            for continuation in listeners.values.flatMap(\.values) { continuation.finish() }
            let closed = RedisError(code: .clientClosed, message: "subscriber closed")
            for waiter in self.waiters.values { waiter.promise.fail(closed) }
            self.waiters = [:]
            if case .connected(let connection) = previous { return connection }
            return nil
        }.get()
        if let connection {
            try? await connection.close().get()
        }
    }

    // MARK: - On the event loop

    private func add(
        _ names: [Name],
        bufferingPolicy: AsyncStream<RedisMessage>.Continuation.BufferingPolicy
    ) async throws -> AsyncStream<RedisMessage> {
        let (stream, continuation) = AsyncStream.makeStream(of: RedisMessage.self, bufferingPolicy: bufferingPolicy)
        let id = try await eventLoop.submit { () -> Int in
            let id = self.nextID
            self.nextID += 1
            return id
        }.get()
        continuation.onTermination = { _ in
            self.eventLoop.execute { self.remove(id: id) }
        }
        do {
            try await eventLoop.flatSubmit { self.register(id: id, names: names, continuation: continuation) }.get()
        } catch {
            continuation.finish()
            throw error
        }
        return stream
    }

    private func register(id: Int, names: [Name], continuation: AsyncStream<RedisMessage>.Continuation) -> EventLoopFuture<Void> {
        eventLoop.assertInEventLoop()
        switch state {
        case .closed:
            return eventLoop.makeFailedFuture(RedisError(code: .clientClosed, message: "subscriber closed"))
        case .waitingToReconnect(_, let lastError):
            return eventLoop.makeFailedFuture(RedisError(code: .unavailable, message: "Redis unavailable, reconnecting: \(lastError.message)"))
        case .idle, .connecting, .connected:
            break
        }
        var fresh = Set<Name>()
        for name in names {
            if listeners[name, default: [:]].isEmpty { fresh.insert(name) }
            listeners[name, default: [:]][id] = continuation
        }
        guard !fresh.isEmpty else { return eventLoop.makeSucceededFuture(()) }

        let promise = eventLoop.makePromise(of: Void.self)
        waiters[id] = Waiter(pending: fresh, promise: promise)
        let timeout = eventLoop.scheduleTask(in: configuration.connectTimeout + configuration.commandTimeout) {
            if let waiter = self.waiters.removeValue(forKey: id) {
                waiter.promise.fail(RedisError(code: .timeout, message: "Redis did not confirm the subscription in time"))
            }
        }
        promise.futureResult.whenComplete { _ in timeout.cancel() }

        switch state {
        case .connected(let connection):
            sendSubscribe(Array(fresh), on: connection)
        case .idle:
            connect(attempt: 0)
        default:
            break  // connecting: the new names are subscribed once connected
        }
        return promise.futureResult
    }

    private func remove(id: Int) {
        eventLoop.assertInEventLoop()
        var emptied: [Name] = []
        for name in Array(listeners.keys) {
            guard listeners[name]?.removeValue(forKey: id) != nil else { continue }
            if listeners[name]?.isEmpty == true {
                listeners[name] = nil
                emptied.append(name)
            }
        }
        if let waiter = waiters.removeValue(forKey: id) {
            waiter.promise.fail(RedisError(code: .connectionClosed, message: "subscription ended"))
        }
        guard !emptied.isEmpty, case .connected(let connection) = state else { return }
        let channels = emptied.filter { !$0.isPattern }.map { RedisArgument($0.name) }
        let patterns = emptied.filter(\.isPattern).map { RedisArgument($0.name) }
        var commands: [[RedisArgument]] = []
        if !channels.isEmpty { commands.append(["UNSUBSCRIBE"] + channels) }
        if !patterns.isEmpty { commands.append(["PUNSUBSCRIBE"] + patterns) }
        _ = connection.sendPush(commands)
    }

    private func sendSubscribe(_ names: [Name], on connection: RedisConnection) {
        let channels = names.filter { !$0.isPattern }.map { RedisArgument($0.name) }
        let patterns = names.filter(\.isPattern).map { RedisArgument($0.name) }
        var commands: [[RedisArgument]] = []
        if !channels.isEmpty { commands.append(["SUBSCRIBE"] + channels) }
        if !patterns.isEmpty { commands.append(["PSUBSCRIBE"] + patterns) }
        guard !commands.isEmpty else { return }
        _ = connection.sendPush(commands)
    }

    private func connect(attempt: Int) {
        eventLoop.assertInEventLoop()
        state = .connecting(attempt: attempt)
        let candidates = nodes()
        var nodeConfiguration = configuration
        if configuration.isCluster, !candidates.isEmpty {
            let node = candidates[nodeCursor % candidates.count]
            nodeConfiguration = configuration.node(node)
            logger.debug("redis: subscriber connecting", metadata: ["redis.node": "\(node)"])
        }
        RedisConnection.connect(configuration: nodeConfiguration, eventLoop: eventLoop, logger: logger) { push in
            self.eventLoop.assertInEventLoop()
            self.handle(push)
        }.hop(to: eventLoop).whenComplete { result in
            self.connectCompleted(result, attempt: attempt)
        }
    }

    private func connectCompleted(_ result: Result<RedisConnection, any Error>, attempt: Int) {
        eventLoop.assertInEventLoop()
        switch result {
        case .success(let connection):
            guard case .connecting = state else {
                connection.channel.close(promise: nil)
                return
            }
            state = .connected(connection)
            metrics.connectionsOpen.increment()
            if attempt > 0 {
                metrics.reconnects.increment()
                logger.info("redis: subscriber reconnected; resubscribing", metadata: ["redis.subscriptions": "\(listeners.count)"])
            }
            connection.closeFuture.hop(to: eventLoop).whenComplete { _ in self.connectionLost(connection) }
            sendSubscribe(Array(listeners.keys), on: connection)

        case .failure(let error):
            guard case .connecting = state else { return }
            nodeCursor &+= 1
            let redisError = error as? RedisError ?? RedisError(code: .unavailable, message: "\(error)")
            logger.debug("redis: subscriber connect failed", metadata: ["redis.error": "\(redisError)"])
            if attempt == 0 {
                // First connect for a subscribe call: fail the waiters rather than make them wait.
                for (id, waiter) in waiters {
                    waiters[id] = nil
                    waiter.promise.fail(redisError)
                }
            }
            if listeners.isEmpty {
                state = .idle
            } else {
                state = .waitingToReconnect(attempt: attempt + 1, lastError: redisError)
                scheduleReconnect(attempt: attempt + 1)
            }
        }
    }

    private func connectionLost(_ connection: RedisConnection) {
        eventLoop.assertInEventLoop()
        metrics.connectionsOpen.decrement()
        guard case .connected(let current) = state, current === connection else { return }
        if listeners.isEmpty {
            state = .idle
            return
        }
        nodeCursor &+= 1
        logger.warning("redis: subscriber connection lost; reconnecting")
        let error = RedisError(code: .connectionClosed, message: "connection lost")
        state = .waitingToReconnect(attempt: 1, lastError: error)
        scheduleReconnect(attempt: 1)
    }

    private func scheduleReconnect(attempt: Int) {
        eventLoop.scheduleTask(in: backoff.delay(attempt: attempt - 1)) {
            guard case .waitingToReconnect(let current, _) = self.state, current == attempt else { return }
            self.connect(attempt: attempt)
        }
    }

    private func handle(_ push: RedisPushMessage) {
        switch push {
        case .message(let channel, let pattern, let payload):
            let name = pattern.map { Name(name: $0, isPattern: true) } ?? Name(name: channel, isPattern: false)
            guard let continuations = listeners[name] else { return }
            let message = RedisMessage(channel: channel, pattern: pattern, payload: payload)
            for continuation in continuations.values {
                continuation.yield(message)
            }
        case .subscribed(let name, let isPattern):
            let key = Name(name: name, isPattern: isPattern)
            for (id, var waiter) in waiters where waiter.pending.contains(key) {
                waiter.pending.remove(key)
                if waiter.pending.isEmpty {
                    waiters[id] = nil
                    waiter.promise.succeed(())
                } else {
                    waiters[id] = waiter
                }
            }
        case .unsubscribed:
            break
        }
    }
}
