#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization

/// The HTTP/1.1 edge server: a swift-service-lifecycle `Service`.
///
/// ```swift
/// var router = Router()
/// router.get("/v1/events/{eventId}/queue/{ticket}") { request, context in ... }
/// let server = EdgeServer(
///     configuration: EdgeConfiguration(host: "0.0.0.0", port: 8080, reusePort: true),
///     router: router,
///     readinessChecks: [ReadinessCheck(name: "redis") { try await redis.ping() }],
///     metricsRegistry: registry,
///     logger: logger
/// )
/// let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()
/// ```
///
/// ``run()`` binds, serves until graceful shutdown (SIGTERM through the `ServiceGroup`), then stops
/// accepting, lets in-flight requests finish (idle kept-alive connections close at once, busy ones
/// answer with `Connection: close`), force-closes what is left after
/// ``EdgeConfiguration/drainTimeout``, and returns. Tests can use ``start()`` and ``shutdown()``
/// instead. A server is one-shot: it cannot be started twice.
public final class EdgeServer: Service {
    private enum Phase {
        case idle
        case starting(stopRequested: Bool)
        case running(any Channel)
        case draining
        case stopped
    }

    private struct State {
        var phase: Phase = .idle
        var localAddress: SocketAddress?
    }

    /// The configuration the server was created with.
    public let configuration: EdgeConfiguration
    private let core: EdgeServerCore
    private let group: any EventLoopGroup
    private let ownsGroup: Bool
    private let logger: Logger
    private let state = Mutex(State())
    private let stopped = ShutdownSignal()

    /// Creates a server.
    ///
    /// - Parameters:
    ///   - configuration: address and limits.
    ///   - router: the application's routes. `GET /healthz`, `GET /readyz` and (with a registry)
    ///     `GET /metrics` are added unless the router already has those paths.
    ///   - readinessChecks: the dependencies `GET /readyz` checks, concurrently, each with its timeout.
    ///   - metricsRegistry: the Prometheus registry `GET /metrics` emits.
    ///   - metricsFactory: where the HTTP metrics are created; defaults to a
    ///     `PrometheusMetricsFactory` over `metricsRegistry` when given, else `MetricsSystem.factory`.
    ///   - eventLoopGroup: the group to serve on; when `nil` the server creates one with
    ///     ``EdgeConfiguration/eventLoopCount`` threads and shuts it down when it stops.
    ///   - logger: the server's logger; requests log with `request.id` metadata.
    ///   - handoff: with several worker processes on the port, lets handlers hand their
    ///     connection to another worker (``HTTPConnectionHandOff``) and receives the connections
    ///     the others hand to this one; it listens from ``start()`` until the drain begins.
    public init(
        configuration: EdgeConfiguration,
        router: Router,
        readinessChecks: [ReadinessCheck] = [],
        metricsRegistry: PrometheusCollectorRegistry? = nil,
        metricsFactory: (any MetricsFactory)? = nil,
        eventLoopGroup: (any EventLoopGroup)? = nil,
        logger: Logger = Logger(label: "waitroom.edge"),
        handoff: ConnectionHandoff? = nil
    ) {
        self.configuration = configuration
        self.logger = logger
        if let eventLoopGroup {
            self.group = eventLoopGroup
            self.ownsGroup = false
        } else {
            self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.eventLoopCount))
            self.ownsGroup = true
        }
        let registry = ConnectionRegistry()
        var router = router
        EdgeServer.addBuiltinRoutes(
            to: &router,
            probe: ReadinessProbe(checks: readinessChecks, defaultTimeout: configuration.readinessCheckTimeout),
            retryAfterSeconds: configuration.readinessRetryAfterSeconds,
            metricsRegistry: metricsRegistry,
            isDraining: { registry.isDraining }
        )
        let factory: any MetricsFactory = metricsFactory
            ?? metricsRegistry.map { PrometheusMetricsFactory(registry: $0) }
            ?? MetricsSystem.factory
        self.core = EdgeServerCore(
            configuration: configuration,
            router: router,
            registry: registry,
            metricsFactory: factory,
            logger: logger,
            handoff: handoff
        )
    }

    /// The address the server is bound to, once started.
    public var localAddress: SocketAddress? { self.state.withLock { $0.localAddress } }

    /// The port the server is bound to, once started (useful with port `0`).
    public var port: Int? { self.localAddress?.port }

    /// Every `(method, pattern)` the server answers, the built-in routes included, in registration
    /// order (`HEAD` is implied wherever `GET` is).
    public var registeredRoutes: [(method: HTTPMethod, pattern: String)] { self.core.router.registeredRoutes }

    /// The number of open client connections.
    public var openConnections: Int { self.core.registry.count }

    /// Binds the listening socket and starts accepting. Throws if binding fails or the server was
    /// started before.
    public func start() async throws {
        try self.state.withLock { state in
            guard case .idle = state.phase else { throw EdgeServerError.alreadyStarted }
            state.phase = .starting(stopRequested: false)
        }
        let core = self.core
        var bootstrap = ServerBootstrap(group: self.group)
            .serverChannelOption(.backlog, value: self.configuration.backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        if self.configuration.reusePort {
            bootstrap = bootstrap.serverChannelOption(.socketOption(.init(rawValue: SO_REUSEPORT)), value: 1)
        }
        bootstrap = bootstrap
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(
                minimum: 64, initial: max(64, self.configuration.initialReceiveBufferBytes), maximum: 65536))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try core.configure(channel) }
            }

        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: self.configuration.host, port: self.configuration.port).get()
        } catch {
            self.state.withLock { $0.phase = .stopped }
            await self.releaseGroup()
            self.stopped.fire()
            throw error
        }

        let stopRequested = self.state.withLock { state -> Bool in
            state.localAddress = channel.localAddress
            if case .starting(let stopRequested) = state.phase, stopRequested {
                state.phase = .draining
                return true
            }
            state.phase = .running(channel)
            return false
        }
        if let handoff = self.core.handoff {
            do {
                try handoff.listen { [weak self] descriptor, bytes in
                    guard let self else { _ = close(descriptor); return }
                    self.adopt(descriptor: descriptor, bytes: bytes)
                }
            } catch {
                // The other workers then serve their requests themselves (their hand-offs fail).
                self.logger.error("connection hand-off socket not opened", metadata: ["error": "\(error)"])
            }
        }
        self.logger.info("edge listening", metadata: [
            "address": "\(channel.localAddress.map { "\($0)" } ?? "?")",
            "reuse_port": "\(self.configuration.reusePort)",
        ])
        channel.closeFuture.whenComplete { _ in self.beginShutdown() }
        if stopRequested {
            Task { await self.drain(serverChannel: channel, immediately: false) }
        }
    }

    /// Shuts down gracefully (see the type's notes) and returns once the server has stopped.
    public func shutdown() async {
        self.beginShutdown()
        await self.stopped.wait()
    }

    /// Runs the server until graceful shutdown or cancellation (which closes connections at once).
    public func run() async throws {
        try await self.start()
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await self.stopped.wait()
            } onGracefulShutdown: {
                self.beginShutdown()
            }
        } onCancel: {
            self.beginShutdown(immediately: true)
        }
    }

    /// Starts the shutdown without waiting for it; idempotent.
    private func beginShutdown(immediately: Bool = false) {
        enum Action {
            case none
            case fireStopped
            case drain(any Channel)
            case closeAll
        }
        let action = self.state.withLock { state -> Action in
            switch state.phase {
            case .idle:
                state.phase = .stopped
                return .fireStopped
            case .starting:
                state.phase = .starting(stopRequested: true)
                return .none
            case .running(let channel):
                state.phase = .draining
                return .drain(channel)
            case .draining:
                return immediately ? .closeAll : .none
            case .stopped:
                return .none
            }
        }
        switch action {
        case .none:
            break
        case .fireStopped:
            Task { await self.releaseGroup(); self.stopped.fire() }
        case .drain(let channel):
            Task { await self.drain(serverChannel: channel, immediately: immediately) }
        case .closeAll:
            self.core.registry.closeAll()
        }
    }

    /// Serves a connection another worker handed over: its pipeline as for an accepted one, then
    /// `bytes` (the request it was serving and what followed) as if just read, then the socket.
    /// Called on the hand-off's receiving thread.
    private func adopt(descriptor: Int32, bytes: [UInt8]) {
        let running = self.state.withLock { state -> Bool in
            if case .running = state.phase { return true }
            return false
        }
        guard running, !self.core.registry.isDraining else {
            _ = close(descriptor)
            return
        }
        let core = self.core
        let initial = ByteBuffer(bytes: bytes)
        ClientBootstrap(group: self.group)
            // Nothing is read from the socket before the bytes that came with it.
            .channelOption(.autoRead, value: false)
            .channelOption(.maxMessagesPerRead, value: 16)
            .channelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(
                minimum: 64, initial: max(64, self.configuration.initialReceiveBufferBytes), maximum: 65536))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try core.configure(channel, adopted: true) }
            }
            .withConnectedSocket(descriptor)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    // On the channel's loop, right after it became active.
                    core.metrics.handOffs[HTTPMetrics.HandOff.adopted.rawValue].increment()
                    let pipeline = channel.pipeline.syncOperations
                    pipeline.fireChannelRead(NIOAny(initial))
                    pipeline.fireChannelReadComplete()
                    try? channel.syncOptions?.setOption(.autoRead, value: true)
                case .failure(let error):
                    core.logger.warning("a handed-over connection could not be registered", metadata: ["error": "\(error)"])
                }
            }
    }

    private func drain(serverChannel: any Channel, immediately: Bool) async {
        self.logger.info("edge draining", metadata: ["connections": "\(self.core.registry.count)"])
        try? await serverChannel.close()
        // No more connections come from the other workers (theirs fail over to serving themselves).
        self.core.handoff?.close()
        let registry = self.core.registry
        registry.beginDrain()
        if immediately { registry.closeAll() }
        let drainTimeout = self.configuration.drainTimeout
        let drained = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await registry.waitUntilEmpty()
                return true
            }
            group.addTask {
                try? await Task.sleep(for: drainTimeout)
                return false
            }
            let first = await group.next() ?? true
            if !first { registry.closeAll() }
            group.cancelAll()
            return first
        }
        if !drained {
            self.logger.warning("edge drain deadline passed; closed remaining connections")
        }
        await self.releaseGroup()
        self.state.withLock { $0.phase = .stopped }
        self.logger.info("edge stopped")
        self.stopped.fire()
    }

    private func releaseGroup() async {
        guard self.ownsGroup else { return }
        do {
            try await self.group.shutdownGracefully()
        } catch {
            self.logger.warning("event loop group shutdown failed", metadata: ["error": "\(error)"])
        }
    }
}
