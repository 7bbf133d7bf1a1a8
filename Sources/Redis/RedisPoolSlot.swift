import Logging
import NIOCore
import Synchronization

/// One connection of the pool and its life: connects lazily on first use, reconnects with
/// backoff after a loss, and fails fast while it waits to reconnect.
final class RedisPoolSlot: Sendable {
    enum State {
        case idle
        case connecting(EventLoopFuture<RedisConnection>, attempt: Int)
        case connected(RedisConnection)
        case waitingToReconnect(attempt: Int, lastError: RedisError)
        case closed
    }

    enum Acquired {
        case ready(RedisConnection)
        case pending(EventLoopFuture<RedisConnection>)
        case failed(RedisError)
    }

    let index: Int
    let eventLoop: any EventLoop
    private let configuration: RedisConfiguration
    private let logger: Logger
    private let metrics: RedisMetrics
    private let backoff: RedisBackoff
    private let state = Mutex<State>(.idle)

    init(index: Int, eventLoop: any EventLoop, configuration: RedisConfiguration, logger: Logger, metrics: RedisMetrics) {
        self.index = index
        self.eventLoop = eventLoop
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "redis.connection"] = "\(index)"
        self.logger = logger
        self.metrics = metrics
        self.backoff = RedisBackoff(minimum: configuration.reconnectBackoffMin, maximum: configuration.reconnectBackoffMax)
    }

    var isConnected: Bool {
        state.withLock { state in
            if case .connected = state { return true }
            return false
        }
    }

    /// The connection, a connect in progress to wait for, or why there is none.
    func acquire() -> Acquired {
        let (acquired, start) = state.withLock { state -> (Acquired, EventLoopPromise<RedisConnection>?) in
            switch state {
            case .connected(let connection):
                return (.ready(connection), nil)
            case .connecting(let future, _):
                return (.pending(future), nil)
            case .idle:
                let promise = eventLoop.makePromise(of: RedisConnection.self)
                state = .connecting(promise.futureResult, attempt: 0)
                return (.pending(promise.futureResult), promise)
            case .waitingToReconnect(_, let lastError):
                return (.failed(RedisError(code: .unavailable, message: "Redis unavailable, reconnecting: \(lastError.message)")), nil)
            case .closed:
                return (.failed(RedisError(code: .clientClosed, message: "Redis client closed")), nil)
            }
        }
        if let start { connect(promise: start, attempt: 0) }
        return acquired
    }

    /// Closes gracefully: `QUIT` lets the in-flight replies arrive first, then the channel closes.
    func close() async {
        let previous = state.withLock { state -> State in
            let previous = state
            state = .closed
            return previous
        }
        guard case .connected(let connection) = previous else { return }
        _ = try? await connection.send([["QUIT"]], timeout: configuration.commandTimeout).get()
        try? await connection.close().get()
    }

    private func connect(promise: EventLoopPromise<RedisConnection>, attempt: Int) {
        logger.debug("redis: connecting", metadata: ["redis.attempt": "\(attempt)"])
        RedisConnection.connect(configuration: configuration, eventLoop: eventLoop, logger: logger)
            .whenComplete { result in
                self.connectCompleted(result, attempt: attempt, promise: promise)
            }
    }

    private func connectCompleted(_ result: Result<RedisConnection, any Error>, attempt: Int, promise: EventLoopPromise<RedisConnection>) {
        switch result {
        case .success(let connection):
            let accepted = state.withLock { state -> Bool in
                if case .closed = state { return false }
                state = .connected(connection)
                return true
            }
            guard accepted else {
                connection.channel.close(promise: nil)
                promise.fail(RedisError(code: .clientClosed, message: "Redis client closed"))
                return
            }
            metrics.connectionsOpen.increment()
            if attempt > 0 {
                metrics.reconnects.increment()
                logger.info("redis: reconnected", metadata: ["redis.attempt": "\(attempt)"])
            }
            connection.closeFuture.whenComplete { _ in self.connectionLost(connection) }
            promise.succeed(connection)

        case .failure(let error):
            let redisError = error as? RedisError ?? RedisError(code: .unavailable, message: "\(error)")
            let next = attempt + 1
            let retry = state.withLock { state -> Bool in
                if case .closed = state { return false }
                state = .waitingToReconnect(attempt: next, lastError: redisError)
                return true
            }
            if attempt <= 1 {
                logger.warning("redis: connect failed", metadata: ["redis.error": "\(redisError)"])
            } else {
                logger.debug("redis: connect failed", metadata: ["redis.error": "\(redisError)", "redis.attempt": "\(attempt)"])
            }
            if retry { scheduleReconnect(attempt: next) }
            promise.fail(redisError)
        }
    }

    private func connectionLost(_ connection: RedisConnection) {
        metrics.connectionsOpen.decrement()
        let retry = state.withLock { state -> Bool in
            guard case .connected(let current) = state, current === connection else { return false }
            state = .waitingToReconnect(attempt: 1, lastError: RedisError(code: .connectionClosed, message: "connection lost"))
            return true
        }
        guard retry else { return }
        logger.warning("redis: connection lost; reconnecting")
        scheduleReconnect(attempt: 1)
    }

    private func scheduleReconnect(attempt: Int) {
        // attempt 1 is the first retry: wait about `reconnectBackoffMin`.
        let delay = backoff.delay(attempt: attempt - 1)
        eventLoop.scheduleTask(in: delay) {
            let promise = self.state.withLock { state -> EventLoopPromise<RedisConnection>? in
                guard case .waitingToReconnect(let current, _) = state, current == attempt else { return nil }
                let promise = self.eventLoop.makePromise(of: RedisConnection.self)
                state = .connecting(promise.futureResult, attempt: attempt)
                return promise
            }
            if let promise { self.connect(promise: promise, attempt: attempt) }
        }
    }
}
