import Edge
import Foundation
import Inventory
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import Orders
import Postgres
import Prometheus
import Redis
import ServiceLifecycle
import Waitroom

/// One edge worker process: its clients, its routes, its services, wired into one ServiceGroup.
/// Shutdown runs in reverse order: HTTP first (stop accepting, drain), then the rest.
public enum WorkerApp {
    /// A worker wired but not started: its server (with the whole route table), its services in
    /// start order, and what to close after they stopped. Building one does no I/O (the clients
    /// connect lazily), so `waitroomd routes` can read the very route table `serve` uses.
    public struct Assembly {
        public let server: EdgeServer
        let services: [ServiceGroupConfiguration.ServiceConfiguration]
        let close: @Sendable () async -> Void
    }

    /// Serves until SIGTERM/SIGINT or the supervisor's exit, then closes everything.
    public static func run(configuration: ServerConfiguration, allocator: String, logger: Logger) async throws {
        let worker = try assemble(configuration: configuration, allocator: allocator, logger: logger)
        logger.info("worker starting", metadata: [
            "pid": "\(getpid())", "address": "\(configuration.host):\(configuration.port)",
            "event_loops": "\(configuration.eventLoopThreads)", "role": "\(configuration.role)",
        ])
        let services = ServiceGroup(configuration: .init(
            services: worker.services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await services.run()
        } catch {
            logger.error("worker stopped with an error", metadata: ["error": "\(error)"])
        }
        await worker.close()
        logger.info("worker stopped")
    }

    /// The `(method, pattern)` of every route a worker serves, built exactly as ``run`` builds them.
    public static func routeTable(configuration: ServerConfiguration, logger: Logger) async throws -> [(method: String, pattern: String)] {
        let worker = try assemble(configuration: configuration, allocator: "", logger: logger)
        let routes = worker.server.registeredRoutes.map { (method: $0.method.rawValue, pattern: $0.pattern) }
        await worker.close()
        return routes
    }

    /// Wires a worker's clients, routes and services without starting anything.
    public static func assemble(configuration: ServerConfiguration, allocator: String, logger: Logger) throws -> Assembly {
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
        var hubConfiguration = SSEHubConfiguration()
        let environment = ProcessInfo.processInfo.environment
        if environment["WAITROOM_SSE_DIRECT_WRITES"] == "0" { hubConfiguration.directWrites = false }
        if environment["WAITROOM_SSE_BATCHED_SENDS"] == "0" { hubConfiguration.batchedSends = false }
        if let slice = environment["WAITROOM_SSE_WALK_SLICE"].flatMap(Int.init), slice > 0 { hubConfiguration.walkSlice = slice }
        let hub = SSEHub(eventLoopGroup: group, configuration: hubConfiguration)
        // One admission configuration for the admitter and for the trackers, which tell the hub
        // its tick period (the opening burst of position frames is spread by it).
        let admissionConfiguration = AdmissionControllerConfiguration()
        let trackers = TrackerRegistry(redis: redis, store: store, hub: hub, keyring: configuration.signingKeys, logger: logger,
                                       admissionTick: admissionConfiguration.tickInterval)
        // The admitter keeps time on a loop and a Redis connection of its own: on a machine
        // saturated by streams and checkout, ticks on the shared loops came up to seconds late
        // and a 50/s on-sale admitted 30/s.
        let admissionGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var admissionRedisConfiguration = try RedisConfiguration(url: configuration.redisURL)
        admissionRedisConfiguration.poolSize = 1
        let admissionRedis = RedisClient(configuration: admissionRedisConfiguration, eventLoopGroup: admissionGroup, logger: logger)
        let admission = AdmissionController(
            store: QueueStore(client: admissionRedis), configuration: admissionConfiguration, logger: logger,
            executor: EventLoopTaskExecutor(eventLoop: admissionGroup.next()))
        var queue = QueueRoutes(
            store: store, trackers: trackers, hub: hub, keyring: configuration.signingKeys, catalog: catalog,
            joinRatePerAddress: configuration.joinRatePerAddress > 0 ? configuration.joinRatePerAddress : nil,
            trustedProxies: configuration.trustedProxies,
            abandonAfterSeconds: configuration.abandonAfterSeconds, logger: logger)

        // The inventory's combined transactions get connections of their own (a batch must not
        // wait behind lookups for a pooled connection while requests queue behind it).
        var batchPool = try PostgresConfiguration(url: configuration.databaseURL)
        batchPool.poolSize = 4
        batchPool.metricsPoolName = "inventory-batches"
        let batchDatabase = PostgresClient(configuration: batchPool, logger: logger)
        // The combined transactions go on pipelined sessions (two batches of a lock set in
        // flight, the second sent while the first runs), one per lock set's hash, connected on
        // first use; WAITROOM_INVENTORY_PIPELINE=0 runs them on the pool, one at a time.
        var lanes = batchPool
        lanes.metricsPoolName = "inventory-lanes"
        let pipelined = environment["WAITROOM_INVENTORY_PIPELINE"] == "0" ? nil : lanes
        // Several workers on one machine: each lock set is combined by one of them (CombinerPeers).
        let workerIndex = environment["WAITROOM_WORKER_INDEX"].flatMap(Int.init) ?? 0
        var combiner: CombinerTransport?
        var peers: CombinerPeers?
        var handoff: ConnectionHandoff?
        if configuration.role.runsEdge, configuration.processes > 1, (0..<configuration.processes).contains(workerIndex),
           let directory = environment["WAITROOM_COMBINER_DIR"], !directory.isEmpty {
            let transport = CombinerTransport(
                directory: directory, group: group,
                timeout: .milliseconds(Int64(configuration.reservations.lockTimeout.wholeMilliseconds) + 5_000))
            combiner = transport
            peers = CombinerPeers(index: workerIndex, count: configuration.processes) { process, request in
                try await transport.send(to: process, request)
            }
            // Connections whose reservations another worker combines go to it (ConnectionHandoff);
            // WAITROOM_CONNECTION_HANDOFF=0 forwards each operation instead.
            if environment["WAITROOM_CONNECTION_HANDOFF"] != "0" {
                handoff = ConnectionHandoff(directory: directory, index: workerIndex, logger: logger)
            }
        }
        let reservations = ReservationService(
            database: database, batchDatabase: batchDatabase, pipelined: pipelined, lanes: batchPool.poolSize,
            // The batches' tasks on the worker's (first) event loop, where its HTTP handlers
            // run: a batch's callers resume there without a thread switch.
            batchExecutor: EventLoopTaskExecutor(eventLoop: group.next()),
            configuration: configuration.reservations, peers: peers, logger: logger,
            soldOut: { event in
                do {
                    _ = try await store.markSoldOut(event: event)
                } catch {
                    logger.error("could not mark the event sold out", metadata: ["inventory.event": "\(event)", "error": "\(error)"])
                }
            })
        let sweeper = HoldSweeper(database: database, configuration: configuration.reservations, logger: logger,
                                  isReady: { migrations.isComplete })

        let ordersConfiguration = OrdersConfiguration(
            paymentTimeout: .seconds(configuration.paymentTimeoutSeconds), maxAttempts: configuration.sagaMaxAttempts,
            webhookSecret: configuration.paymentWebhookSecret.map { Array($0.utf8) }
                ?? configuration.signingKeys.derivedSecret(purpose: "payment-webhook"),
            simulatedLatency: .milliseconds(configuration.paymentLatencyMilliseconds),
            simulatedDuplicateRate: configuration.paymentDuplicateRate)
        let poster = HTTPPoster(group: group)
        let paymentScheduled = Doorbell()
        let postgresConfiguration = try PostgresConfiguration(url: configuration.databaseURL)
        let provider: any PaymentProvider = configuration.paymentProvider == "http"
            ? HTTPPaymentProvider(baseURL: configuration.paymentURL ?? "", apiKey: configuration.paymentAPIKey) { url, body, headers in
                try await poster.exchange(url, body: body, headers: headers)
            }
            : SimulatedPaymentProvider(database: database, configuration: ordersConfiguration, scheduled: paymentScheduled)
        let coordinator = OrderCoordinator(
            database: database, provider: provider,
            configuration: ordersConfiguration, logger: logger, isReady: { migrations.isComplete },
            listen: {
                let listener = PostgresListener(configuration: postgresConfiguration, logger: logger)
                let notifications = try await listener.listen("waitroom_orders")
                return AsyncStream { continuation in
                    let task = Task {
                        for await _ in notifications { continuation.yield() }
                        continuation.finish()
                    }
                    continuation.onTermination = { _ in
                        task.cancel()
                        Task { await listener.close() }
                    }
                }
            },
            admissionFinished: { event, holder in
                // A completed order may have been the last open payment of a sold event: say so
                // before its slot is freed, so that no one is admitted to nothing.
                await reservations.checkSoldOut(eventID: event)
                do {
                    try await store.finishAdmission(event: event, order: holder)
                } catch {
                    logger.warning("could not end the admission of a completed order", metadata: ["error": "\(error)"])
                }
            })
        let selfHost = ["0.0.0.0", "::", ""].contains(configuration.host) ? "127.0.0.1" : configuration.host
        let webhookURL = configuration.paymentWebhookURL ?? "http://\(selfHost):\(configuration.port)/v1/payments/webhook"
        let paymentWebhooks = SimulatedPaymentWebhooks(
            database: database, configuration: ordersConfiguration, logger: logger, isReady: { migrations.isComplete },
            scheduled: paymentScheduled
        ) { body, signature in
            let status = try await poster.post(webhookURL, body: body, headers: [("X-Payment-Signature", signature)])
            return (200..<300).contains(status)
        }
        let outboxURL = configuration.outboxWebhookURL
        let logSink = OutboxRelay.logSink(logger)
        let outbox = OutboxRelay(database: database, logger: logger, isReady: { migrations.isComplete }) { events in
            try await logSink(events)
            guard let outboxURL else { return }
            let json = "[" + events.map { "{\"id\":\($0.id),\"topic\":\"\($0.topic)\",\"payload\":\($0.payload)}" }.joined(separator: ",") + "]"
            let status = try await poster.post(outboxURL, body: Array(json.utf8))
            guard (200..<300).contains(status) else { throw OrdersError(.provider, "outbox sink answered \(status)") }
        }
        let book = OrderBook(database: database)
        queue.orderCounts = { try await book.counts(eventID: $0) }

        let role = configuration.role
        // A saga process serves only the built-in probes and metrics on its port.
        var router = Router()
        if role.runsEdge {
            router = makeRouter(configuration: configuration, catalog: catalog, queue: queue)
            let reservationRoutes = ReservationRoutes(service: reservations, keyring: configuration.signingKeys)
            reservationRoutes.register(on: &router)
            OrderRoutes(book: book,
                        webhook: PaymentWebhookHandler(database: database, secret: ordersConfiguration.webhookSecret, logger: logger),
                        reservations: reservationRoutes).register(on: &router)
        }
        let server = EdgeServer(
            configuration: configuration.edge,
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
            logger: logger,
            handoff: handoff)

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: migrations),
            .init(service: ParentWatch(), successTerminationBehavior: .gracefullyShutdownGroup),
        ]
        if role.runsEdge { services.append(.init(service: admission)) }
        if role.runsSaga {
            services += [
                .init(service: sweeper),
                .init(service: coordinator),
                .init(service: paymentWebhooks),   // delivers only what the simulator scheduled
                .init(service: outbox),
                .init(service: OrderStatusGauges(database: database, logger: logger, isReady: { migrations.isComplete })),
            ]
        }
        if role.runsEdge { services.append(.init(service: trackers)) }
        if let combiner {
            services.append(.init(service: CombinerListener(
                transport: combiner, index: workerIndex, serve: { await reservations.serveForwarded($0) }, logger: logger)))
        }
        services.append(.init(service: server))   // last: shut down first
        return Assembly(server: server, services: services) {
            trackers.shutdown()
            await hub.close()
            await redis.close()
            await admissionRedis.close()
            try? await admissionGroup.shutdownGracefully()
            await database.close()
            await batchDatabase.close()
            reservations.close()
            try? await group.shutdownGracefully()
        }
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
            guard let event = try await catalog.event(id: id) else {
                throw InventoryError(.eventNotFound, "no event '\(id)'")
            }
            return try eventResponse(event, status: outcome == .created ? .created : .ok)
        }

        router.get("/v1/admin/events/{eventId}") { request, _ in
            try admin.authorize(request)
            let id = try request.pathParameters.require("eventId")
            guard let event = try await catalog.event(id: id) else {
                throw InventoryError(.eventNotFound, "no event '\(id)'")
            }
            return try eventResponse(event, status: .ok)
        }

        let document = ByteBuffer(bytes: PackageResources.openapi_yaml)
        router.get("/v1/openapi.yaml") { _, _ in
            HTTPResponse(status: .ok, headers: ["Content-Type": "application/yaml; charset=utf-8"], body: .buffer(document))
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

/// An event as the admin routes answer it; `opensAt` in RFC 3339, as the contract's times are.
private func eventResponse(_ event: EventDefinition, status: HTTPResponseStatus) throws -> HTTPResponse {
    let encoder = JSONEncoder()
    encoder.dateEncodingStrategy = .iso8601
    return .json(raw: ByteBuffer(bytes: try encoder.encode(event)), status: status)
}

/// `/readyz` says postgres is not ready until the schema is in place.
struct NotMigrated: Error, CustomStringConvertible {
    var description: String { "migrations not applied yet" }
}
