import Inventory
import Logging
import NIOPosix
import Postgres
import Redis
import Waitroom

/// `waitroomd migrate`: applies pending migrations and answers what it applied.
public enum MigrateCommand {
    public static func run(configuration: ServerConfiguration, logger: Logger) async throws -> [String] {
        let database = PostgresClient(configuration: try PostgresConfiguration(url: configuration.databaseURL), logger: logger)
        do {
            let applied = try await Migrator(client: database, migrations: InventoryMigrations.all, logger: logger).migrate()
            await database.close()
            return applied.map { "\($0.version) (\($0.name))" }
        } catch {
            await database.close()
            throw error
        }
    }
}

/// `waitroomd demo`: creates or updates the demo event, in PostgreSQL and in the queue.
public enum DemoCommand {
    public static func run(configuration: ServerConfiguration, logger: Logger) async throws -> String {
        let database = PostgresClient(configuration: try PostgresConfiguration(url: configuration.databaseURL), logger: logger)
        let redis = RedisClient(configuration: try RedisConfiguration(url: configuration.redisURL),
                                eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger)
        do {
            _ = try await Migrator(client: database, migrations: InventoryMigrations.all, logger: logger).migrate()
            let catalog = EventCatalog(database: database)
            let outcome = try await catalog.upsert(.demo)
            let paused = try await catalog.isPaused(eventID: EventDefinition.demo.id)
            _ = try await QueueStore(client: redis).configure(
                event: EventDefinition.demo.id,
                settings: QueueSettings(.demo, paused: paused, abandonAfterSeconds: configuration.abandonAfterSeconds))
            await database.close()
            await redis.close()
            return "demo event '\(EventDefinition.demo.id)' \(outcome == .created ? "created" : "updated")"
        } catch {
            await database.close()
            await redis.close()
            throw error
        }
    }
}
