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

        let router = makeRouter(configuration: configuration, catalog: catalog)
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
                .init(service: server),   // last: shut down first
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await services.run()
        } catch {
            logger.error("worker stopped with an error", metadata: ["error": "\(error)"])
        }
        await redis.close()
        await database.close()
        try await group.shutdownGracefully()
        logger.info("worker stopped")
    }

    static func makeRouter(configuration: ServerConfiguration, catalog: EventCatalog) -> Router {
        var router = Router()
        let admin = AdminAuthenticator(token: configuration.adminToken)

        router.put("/v1/admin/events/{eventId}") { request, _ in
            try admin.authorize(request)
            let id = try request.pathParameters.require("eventId")
            let body: AdminEventBody = try request.decodeJSON()
            let outcome = try await catalog.upsert(try body.definition(id: id))
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
            return .html(WaitingRoomPage.render(event: event),
                         headers: ["Cache-Control": "no-store"])
        }
        return router
    }
}

/// `/readyz` says postgres is not ready until the schema is in place.
struct NotMigrated: Error, CustomStringConvertible {
    var description: String { "migrations not applied yet" }
}
