import Edge
import Foundation
import Inventory
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import Postgres
import Prometheus
import Redis
import ServiceLifecycle
import Waitroom

/// One edge worker process: its clients, its routes, its services, wired into one ServiceGroup.
/// Shutdown runs in reverse order: HTTP first (stop accepting, drain), then the rest.
public enum WorkerApp {
    public static func run(configuration: ServerConfiguration, allocator: String, logger: Logger) async throws {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        registry.makeGauge(descriptor: .init(
            namespace: "waitroom", metricName: "build", unitName: "info",
            helpText: "Version of the server and the allocator in effect (always 1)."), labels: [
            ("version", WaitroomVersion.string), ("allocator", allocator.hasPrefix("allocator: jemalloc") && !allocator.contains("NOT") ? "jemalloc" : "system"),
        ]).set(1.0)

        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.eventLoopThreads)
        let redis = RedisClient(configuration: try RedisConfiguration(url: configuration.redisURL),
                                eventLoopGroup: group, logger: logger)
        let database = PostgresClient(configuration: try PostgresConfiguration(url: configuration.databaseURL),
                                      logger: logger)
        let migrations = MigrationService(database: database, logger: logger)
        let catalog = EventCatalog(database: database)
        let store = QueueStore(client: redis)
        let hub = SSEHub(eventLoopGroup: group)
        let trackers = TrackerRegistry(redis: redis, store: store, hub: hub, keyring: configuration.signingKeys, logger: logger)
        let admission = AdmissionController(store: store, logger: logger)
        let queue = QueueRoutes(
            store: store, trackers: trackers, hub: hub, keyring: configuration.signingKeys, catalog: catalog,
            joinRatePerAddress: configuration.joinRatePerAddress > 0 ? configuration.joinRatePerAddress : nil,
            abandonAfterSeconds: configuration.abandonAfterSeconds, logger: logger)

        let reservations = ReservationService(
            database: database, configuration: configuration.reservations, logger: logger,
            soldOut: { event in
                do {
                    _ = try await store.markSoldOut(event: event)
                } catch {
                    logger.error("could not mark the event sold out", metadata: ["inventory.event": "\(event)", "error": "\(error)"])
                }
            })
        let sweeper = HoldSweeper(database: database, configuration: configuration.reservations, logger: logger,
                                  isReady: { migrations.isComplete })

        var router = makeRouter(configuration: configuration, catalog: catalog, queue: queue)
        ReservationRoutes(service: reservations, keyring: configuration.signingKeys).register(on: &router)
        let server = EdgeServer(
            configuration: EdgeConfiguration(
                host: configuration.host, port: configuration.port, reusePort: true,
                maxBodyBytes: configuration.maxBodyBytes,
                drainTimeout: .milliseconds(Int64(configuration.drainSeconds * 1000)),
                eventLoopCount: configuration.eventLoopThreads),
            router: router,
            readinessChecks: [
                ReadinessCheck(name: "redis") { try await redis.ping() },
                ReadinessCheck(name: "postgres") {
                    try await database.ping()
                    guard migrations.isComplete else { throw NotMigrated() }
                },
            ],
            metricsRegistry: registry,
            eventLoopGroup: group,
            logger: logger)

        logger.info("worker starting", metadata: [
            "pid": "\(getpid())", "address": "\(configuration.host):\(configuration.port)",
            "event_loops": "\(configuration.eventLoopThreads)",
        ])
        let services = ServiceGroup(configuration: .init(
            services: [
                .init(service: migrations),
                .init(service: ParentWatch(), successTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: admission),
                .init(service: sweeper),
                .init(service: trackers),
                .init(service: server),   // last: shut down first
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await services.run()
        } catch {
            logger.error("worker stopped with an error", metadata: ["error": "\(error)"])
        }
        trackers.shutdown()
        await hub.close()
        await redis.close()
        await database.close()
        try await group.shutdownGracefully()
        logger.info("worker stopped")
    }

    static func makeRouter(configuration: ServerConfiguration, catalog: EventCatalog, queue: QueueRoutes?) -> Router {
        var router = Router()
        let admin = AdminAuthenticator(token: configuration.adminToken)
        queue?.register(on: &router, admin: admin)
        let abandonAfter = configuration.abandonAfterSeconds

        router.put("/v1/admin/events/{eventId}") { request, _ in
            try admin.authorize(request)
            let id = try request.pathParameters.require("eventId")
            let body: AdminEventBody = try request.decodeJSON()
            let definition = try body.definition(id: id)
            let outcome = try await catalog.upsert(definition)
            if let queue {
                // The queue follows the definition; a pause set through the admission API stays.
                let paused = try await catalog.isPaused(eventID: id)
                _ = try await queue.store.configure(event: id, settings: QueueSettings(definition, paused: paused,
                                                                                       abandonAfterSeconds: abandonAfter))
            }
            let event = try await catalog.event(id: id)
            return try .json(event, status: outcome == .created ? .created : .ok)
        }

        router.get("/v1/admin/events/{eventId}") { request, _ in
            try admin.authorize(request)
            let id = try request.pathParameters.require("eventId")
            guard let event = try await catalog.event(id: id) else {
                throw InventoryError(.eventNotFound, "no event '\(id)'")
            }
            return try .json(event)
        }

        router.get("/e/{eventId}") { request, _ in
            let id = try request.pathParameters.require("eventId")
            guard let event = try await catalog.event(id: id) else {
                return .html(WaitingRoomPage.notFound(eventID: id), status: .notFound)
            }
            return .html(WaitingRoomPage.render(event: event, ticketsPerAdmission: configuration.reservations.ticketsPerAdmission),
                         headers: ["Cache-Control": "no-store"])
        }
        return router
    }
}

/// `/readyz` says postgres is not ready until the schema is in place.
struct NotMigrated: Error, CustomStringConvertible {
    var description: String { "migrations not applied yet" }
}
