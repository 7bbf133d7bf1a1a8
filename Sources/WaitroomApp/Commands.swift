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
            let applied = try await Migrator(client: database, migrations: DatabaseSchema.migrations, logger: logger).migrate()
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
            _ = try await Migrator(client: database, migrations: DatabaseSchema.migrations, logger: logger).migrate()
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

/// `waitroomd check`: the Inventory's invariants, as a table; the report says what is broken.
public enum CheckCommand {
    public static func run(configuration: ServerConfiguration, eventID: String?, logger: Logger) async throws -> InventoryChecker.Report {
        let database = PostgresClient(configuration: try PostgresConfiguration(url: configuration.databaseURL), logger: logger)
        do {
            let report = try await InventoryChecker(database: database).check(eventID: eventID)
            await database.close()
            return report
        } catch {
            await database.close()
            throw error
        }
    }

    /// The report as the command prints it.
    public static func render(_ report: InventoryChecker.Report) -> String {
        var lines = ["event/class                     capacity     held     sold  live holds  confirmed"]
        for c in report.classes {
            let name = "\(c.eventID)/\(c.classID)"
            lines.append(name.padding(toLength: max(30, name.count), withPad: " ", startingAt: 0) + "  "
                         + [c.capacity, c.held, c.sold, c.heldByHolds, c.soldByConfirmed]
                            .enumerated().map { i, v in String(v).leftPadded(to: i >= 3 ? 10 : 8) }.joined(separator: " "))
        }
        lines.append(report.isConsistent ? "invariants: all hold (\(report.classes.count) classes)"
                                         : "invariants: \(report.violations.count) BROKEN")
        lines += report.violations.map { "  - \($0)" }
        return lines.joined(separator: "\n")
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
