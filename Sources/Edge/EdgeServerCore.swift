import Logging
import Metrics
import NIOCore
import NIOHTTP1

/// What every connection of one server shares: routes, limits, metrics, logger. Immutable after
/// init except for the registry and the generator, which guard their own state.
final class EdgeServerCore: Sendable {
    let configuration: EdgeConfiguration
    let router: Router
    let metrics: HTTPMetrics
    let logger: Logger
    let registry: ConnectionRegistry
    let requestIDs: RequestIDGenerator
    let headerTimeout: TimeAmount
    let bodyTimeout: TimeAmount
    let bodyDeadline: TimeAmount
    let idleTimeout: TimeAmount
    let lingerTimeout: TimeAmount
    /// Hands connections to the other workers of the machine (none: every request is served here).
    let handoff: ConnectionHandoff?

    init(
        configuration: EdgeConfiguration,
        router: Router,
        registry: ConnectionRegistry,
        metricsFactory: any MetricsFactory,
        logger: Logger,
        handoff: ConnectionHandoff? = nil
    ) {
        self.handoff = handoff
        self.configuration = configuration
        self.router = router
        self.metrics = HTTPMetrics(routes: router.registeredRoutes, factory: metricsFactory)
        self.logger = logger
        self.registry = registry
        self.requestIDs = RequestIDGenerator()
        self.headerTimeout = TimeAmount(configuration.headerTimeout)
        self.bodyTimeout = TimeAmount(configuration.bodyTimeout)
        self.bodyDeadline = TimeAmount(configuration.bodyDeadline)
        self.idleTimeout = TimeAmount(configuration.idleTimeout)
        self.lingerTimeout = TimeAmount(configuration.lingerTimeout)
    }

    /// Builds the pipeline of an accepted connection, or of one another worker handed over
    /// (`adopted`), on its event loop.
    func configure(_ channel: any Channel, adopted: Bool = false) throws {
        let operations = channel.pipeline.syncOperations
        try operations.addHandler(ConnectionTimeoutHandler(
            headerTimeout: self.headerTimeout,
            bodyTimeout: self.bodyTimeout,
            bodyDeadline: self.bodyDeadline,
            idleTimeout: self.idleTimeout,
            lingerTimeout: self.lingerTimeout
        ))
        // Response heads are checked in `HTTPConnectionHandler.respond` (HTTPHeaderCheck).
        try operations.addHandler(HTTP1ServerCodec(maxHeadBytes: self.configuration.maxHeaderBytes))
        try operations.addHandler(HTTPConnectionHandler(core: self, adopted: adopted))

        self.metrics.connectionsOpen.increment()
        self.registry.register(channel)
        channel.closeFuture.whenComplete { [metrics = self.metrics, registry = self.registry] _ in
            metrics.connectionsOpen.decrement()
            registry.unregister(channel)
        }
    }
}
