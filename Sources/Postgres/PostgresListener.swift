import Foundation
import Logging
import ThreadSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// LISTEN/NOTIFY on a dedicated connection served by its own thread.
///
/// The thread waits with `poll()` on the connection's socket (and a wake-up pipe), so
/// notifications are delivered as soon as they arrive. If the connection is lost it
/// reconnects with backoff (100 ms doubling to 5 s) and re-issues LISTEN for every channel
/// that still has subscribers. Notifications sent while disconnected are lost (PostgreSQL
/// does not queue them for absent listeners), so consumers should resynchronise from tables
/// when `reconnects` changes if they cannot tolerate gaps. Send with `PostgresClient.notify`.
public final class PostgresListener: Sendable {
    private let configuration: PostgresConfiguration
    private let logger: Logger
    private let state: Locked<State>
    /// Self-pipe used to wake the listener thread; both ends non-blocking, closed by the thread.
    private let wakePipe = WakePipe()

    private typealias Subscriber = AsyncStream<PostgresNotification>.Continuation

    private struct State {
        var subscribers: [String: [UInt64: Subscriber]] = [:]
        var pendingAcks: [CheckedContinuation<Void, Never>] = []
        var closeWaiters: [CheckedContinuation<Void, Never>] = []
        var nextID: UInt64 = 0
        var closed = false
        var finished = false
        var backendPID: Int32?
        var reconnects = 0
    }

    /// Creates the listener and starts its thread; it connects right away.
    public init(configuration: PostgresConfiguration, logger: Logger) {
        var configuration = configuration
        configuration.applicationName += "-listener"
        configuration.statementTimeout = nil
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "pg_listener"] = "\(configuration.metricsPoolName)"
        self.logger = logger
        self.state = Locked(State())
        let thread = Thread { [self] in
            ThreadName.set("pg-listener")
            self.run()
        }
        thread.start()
    }

    /// Subscribes to `channel`. Returns once LISTEN has been issued (or attempted, if the
    /// server is currently unreachable — the subscription then takes effect on reconnect).
    /// Ending the stream (cancel the consuming task / drop it) unsubscribes; the last
    /// subscriber of a channel triggers UNLISTEN.
    ///
    /// `channel` must be 1-63 characters of `[A-Za-z0-9_]`; it is matched case-sensitively,
    /// like `pg_notify`.
    public func listen(_ channel: String) async throws -> AsyncStream<PostgresNotification> {
        try Self.validate(channel)
        let (stream, continuation) = AsyncStream<PostgresNotification>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        let id = try state.withLock { state -> UInt64 in
            guard !state.closed else { throw PostgresError(code: .closed, message: "listener is closed") }
            state.nextID += 1
            state.subscribers[channel, default: [:]][state.nextID] = continuation
            return state.nextID
        }
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            self.state.withLock { state in
                state.subscribers[channel]?[id] = nil
                if state.subscribers[channel]?.isEmpty == true { state.subscribers[channel] = nil }
            }
            self.wake()
        }
        await withCheckedContinuation { (ack: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state -> Bool in
                if state.finished { return true }
                state.pendingAcks.append(ack)
                return false
            }
            if done { ack.resume() } else { wake() }
        }
        return stream
    }

    /// The server pid of the listening session, if connected (for diagnostics and tests).
    public var backendPID: Int32? { state.withLock { $0.backendPID } }

    /// How many times the listener has re-established its connection after losing it.
    public var reconnects: Int { state.withLock { $0.reconnects } }

    /// Stops the thread, closes the connection and finishes every stream.
    public func close() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let finished = state.withLock { state -> Bool in
                state.closed = true
                if state.finished { return true }
                state.closeWaiters.append(done)
                return false
            }
            if finished { done.resume() } else { wake() }
        }
    }

    static func validate(_ channel: String) throws {
        let ok = (1...63).contains(channel.utf8.count) && channel.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
        }
        guard ok else {
            throw PostgresError(code: .invalidArgument, message: "invalid LISTEN channel name (use 1-63 of [A-Za-z0-9_])")
        }
    }

    private func wake() {
        state.withLock { state in
            guard !state.finished else { return }
            wakePipe.wake()
        }
    }

    // MARK: Listener thread (everything below runs only there)

    private func run() {
        var connection: LibPQConnection?
        var listening: Set<String> = []
        var backoff: Duration = .milliseconds(100)
        var everConnected = false
        var lastFailureLog = ContinuousClock.now - .seconds(60)

        while !state.withLock({ $0.closed }) {
            if connection == nil || connection?.isConnectionOK != true {
                if let lost = connection {
                    lost.close()
                    connection = nil
                    listening = []
                    state.withLock { $0.backendPID = nil }
                    logger.warning("postgres listener connection lost; reconnecting")
                }
                do {
                    let fresh = try LibPQConnection.connect(configuration)
                    connection = fresh
                    backoff = .milliseconds(100)
                    state.withLock { state in
                        state.backendPID = fresh.backendPID
                        if everConnected { state.reconnects += 1 }
                    }
                    everConnected = true
                    logger.debug("postgres listener connected", metadata: ["pg_pid": "\(fresh.backendPID)"])
                } catch {
                    if ContinuousClock.now - lastFailureLog > .seconds(10) {
                        logger.warning("postgres listener cannot connect", metadata: ["error": "\(error)"])
                        lastFailureLog = ContinuousClock.now
                    }
                    resumeAcks()
                    waitForWake(timeout: backoff)
                    backoff = min(backoff * 2, .seconds(5))
                    continue
                }
            }
            guard let conn = connection else { continue }

            // Bring LISTENs in line with the subscriptions.
            let desired = state.withLock { Set($0.subscribers.keys) }
            var failed = false
            for channel in desired.subtracting(listening) {
                do {
                    _ = try conn.query("LISTEN \"\(channel)\"", [])
                    listening.insert(channel)
                } catch {
                    logger.warning("LISTEN failed", metadata: ["channel": "\(channel)", "error": "\(error)"])
                    failed = true
                    break
                }
            }
            if !failed {
                for channel in listening.subtracting(desired) {
                    do {
                        _ = try conn.query("UNLISTEN \"\(channel)\"", [])
                        listening.remove(channel)
                    } catch {
                        failed = true
                        break
                    }
                }
            }
            dispatch(conn.takeNotifications())
            resumeAcks()
            if failed {
                if !conn.isConnectionOK { continue }
                waitForWake(timeout: backoff)
                continue
            }

            // Wait for notifications or a wake-up.
            var fds = [
                pollfd(fd: conn.socket, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakePipe.readEnd, events: Int16(POLLIN), revents: 0),
            ]
            let n = poll(&fds, 2, 1000)
            if n < 0 && errno != EINTR {
                logger.error("poll failed in postgres listener", metadata: ["errno": "\(errno)"])
                conn.close()
                continue
            }
            if fds[1].revents != 0 { wakePipe.drain() }
            if fds[0].revents != 0 {
                guard let notifications = conn.readNotifications() else {
                    conn.close()  // reconnect on the next iteration
                    continue
                }
                dispatch(notifications)
            }
        }

        connection?.close()
        let (subscribers, acks, waiters) = state.withLock { state in
            // Closed under the lock so a concurrent `wake()` never writes to a reused fd.
            wakePipe.close()
            state.finished = true
            state.backendPID = nil
            let result = (state.subscribers, state.pendingAcks, state.closeWaiters)
            state.subscribers = [:]
            state.pendingAcks = []
            state.closeWaiters = []
            return result
        }
        for channel in subscribers.values { for continuation in channel.values { continuation.finish() } }
        for ack in acks { ack.resume() }
        for waiter in waiters { waiter.resume() }
    }

    private func dispatch(_ notifications: [PostgresNotification]) {
        guard !notifications.isEmpty else { return }
        let subscribers = state.withLock { $0.subscribers }
        for notification in notifications {
            for continuation in subscribers[notification.channel]?.values ?? [:].values {
                continuation.yield(notification)
            }
        }
    }

    private func resumeAcks() {
        let acks = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            defer { state.pendingAcks = [] }
            return state.pendingAcks
        }
        for ack in acks { ack.resume() }
    }

    private func waitForWake(timeout: Duration) {
        var pfd = pollfd(fd: wakePipe.readEnd, events: Int16(POLLIN), revents: 0)
        let ms = Int32(PostgresConfiguration.milliseconds(timeout))
        if poll(&pfd, 1, ms) > 0 { wakePipe.drain() }
    }
}
